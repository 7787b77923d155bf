package intelligence

import (
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

// NABProfile is one of the Numenta Anomaly Benchmark application profiles:
// the weights of a true positive, a false positive and a false negative.
type NABProfile struct {
	Name string
	TP   float64
	FP   float64
	FN   float64
}

// NABProfiles are the benchmark's three standard profiles.
var NABProfiles = []NABProfile{
	{Name: "standard", TP: 1.0, FP: 0.11, FN: 1.0},
	{Name: "reward_low_FP_rate", TP: 1.0, FP: 0.22, FN: 1.0},
	{Name: "reward_low_FN_rate", TP: 1.0, FP: 0.11, FN: 2.0},
}

// NABSeries is one labelled benchmark file.
type NABSeries struct {
	// Name is "<category>/<file>.csv", the key of the label file.
	Name   string
	Times  []time.Time
	Values []float64
	// Windows are index ranges [start, end] (inclusive) of labelled anomalies.
	Windows [][2]int
}

const nabTimeLayout = "2006-01-02 15:04:05"

func parseNABTime(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '.'); i >= 0 {
		s = s[:i]
	}
	return time.Parse(nabTimeLayout, s)
}

// LoadNAB reads every series of a NAB data folder (data/ and
// labels/combined_windows.json), sorted by name.
func LoadNAB(dir string) ([]NABSeries, error) {
	lb, err := os.ReadFile(filepath.Join(dir, "labels", "combined_windows.json"))
	if err != nil {
		return nil, fmt.Errorf("nab: labels: %w", err)
	}
	var labels map[string][][2]string
	if err := json.Unmarshal(lb, &labels); err != nil {
		return nil, fmt.Errorf("nab: labels: %w", err)
	}
	names := make([]string, 0, len(labels))
	for n := range labels {
		names = append(names, n)
	}
	sort.Strings(names)
	var out []NABSeries
	for _, name := range names {
		f, err := os.Open(filepath.Join(dir, "data", filepath.FromSlash(name)))
		if errors.Is(err, os.ErrNotExist) {
			continue // a labelled file kept aside
		}
		if err != nil {
			return nil, fmt.Errorf("nab: %s: %w", name, err)
		}
		s, err := readNABCSV(f)
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("nab: %s: %w", name, err)
		}
		s.Name = name
		for _, w := range labels[name] {
			a, err1 := parseNABTime(w[0])
			b, err2 := parseNABTime(w[1])
			if err1 != nil || err2 != nil {
				return nil, fmt.Errorf("nab: %s: bad window %v", name, w)
			}
			lo := sort.Search(len(s.Times), func(i int) bool { return !s.Times[i].Before(a) })
			hi := sort.Search(len(s.Times), func(i int) bool { return s.Times[i].After(b) }) - 1
			if lo <= hi {
				s.Windows = append(s.Windows, [2]int{lo, hi})
			}
		}
		out = append(out, s)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("nab: no data files under %s", dir)
	}
	return out, nil
}

func readNABCSV(r io.Reader) (NABSeries, error) {
	cr := csv.NewReader(r)
	var s NABSeries
	header := true
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return s, err
		}
		if header {
			header = false
			continue
		}
		if len(rec) < 2 {
			return s, fmt.Errorf("short row %v", rec)
		}
		t, err := parseNABTime(rec[0])
		if err != nil {
			return s, err
		}
		v, err := strconv.ParseFloat(strings.TrimSpace(rec[1]), 64)
		if err != nil {
			return s, err
		}
		s.Times = append(s.Times, t)
		s.Values = append(s.Values, v)
	}
	return s, nil
}

// scaledSigmoid is NAB's weighting of a detection's relative position.
func scaledSigmoid(x float64) float64 {
	if x > 3 {
		return -1
	}
	return 2/(1+math.Exp(5*x)) - 1
}

// NABProbation is the number of leading rows of a file that are not scored:
// 15% of the rows, at most 750.
func NABProbation(rows int) int {
	return int(math.Min(math.Floor(0.15*float64(rows)), 0.15*5000))
}

// nabPoint is one scored row: its detector score, its unweighted sigmoid
// value and the window it lies in (-1 outside every window).
type nabPoint struct {
	score  float64
	weight float64
	window int
}

// nabPoints weighs the rows of one file as NAB's sweeper does. Window ids
// are offset by base so that files can be pooled.
func nabPoints(n int, windows [][2]int, scores []float64, base int) (pts []nabPoint, windowsScored []int) {
	prob := NABProbation(n)
	ws := append([][2]int(nil), windows...)
	sort.Slice(ws, func(i, j int) bool { return ws[i][0] < ws[j][0] })
	cur := -1
	prevRight, prevWidth := -1, 0.0
	seen := map[int]bool{}
	for i := 0; i < n; i++ {
		if cur < 0 {
			for k, w := range ws {
				if w[0] == i {
					cur = k
					break
				}
			}
		}
		var weight float64
		win := -1
		switch {
		case cur >= 0:
			width := float64(ws[cur][1] - ws[cur][0] + 1)
			pos := -float64(ws[cur][1]-i+1) / width
			weight = scaledSigmoid(pos)
			win = base + cur
		case prevRight >= 0:
			weight = scaledSigmoid(math.Abs(float64(prevRight-i)) / (prevWidth - 1))
		default:
			weight = -1
		}
		if i >= prob {
			pts = append(pts, nabPoint{score: scores[i], weight: weight, window: win})
			if win >= 0 && !seen[win] {
				seen[win] = true
				windowsScored = append(windowsScored, win)
			}
		}
		if cur >= 0 && i == ws[cur][1] {
			prevRight = i
			prevWidth = float64(ws[cur][1] - ws[cur][0] + 1)
			cur = -1
		}
	}
	return pts, windowsScored
}

// NABResult is the outcome of scoring a corpus under one profile.
type NABResult struct {
	Profile   string  `json:"profile"`
	Threshold float64 `json:"threshold"`
	Raw       float64 `json:"raw"`
	Null      float64 `json:"null"`
	Perfect   float64 `json:"perfect"`
	// Score is normalised: 100 * (raw - null) / (perfect - null).
	Score float64 `json:"score"`
	TP    int     `json:"tp"`
	FP    int     `json:"fp"`
	// Windows is the number of labelled windows; Detected how many of them
	// hold a detection.
	Windows  int `json:"windows"`
	Detected int `json:"detected"`
}

// ScoreNAB scores detector output (scores[i] for series[i], one per row)
// under a profile with the one threshold that maximises the corpus score, as
// NAB's optimiser does: every distinct score value is a candidate and a row
// is a detection when its score >= the threshold.
func ScoreNAB(series []NABSeries, scores [][]float64, p NABProfile) NABResult {
	var all []nabPoint
	var scored []int
	totalWindows := 0
	base := 0
	for i, s := range series {
		pts, ws := nabPoints(len(s.Values), s.Windows, scores[i], base)
		all = append(all, pts...)
		scored = append(scored, ws...)
		base += len(s.Windows)
		totalWindows += len(s.Windows)
	}
	sort.SliceStable(all, func(i, j int) bool { return all[i].score > all[j].score })
	part := make(map[int]float64, len(scored))
	for _, w := range scored {
		part[w] = -p.FN
	}
	null := -p.FN * float64(len(scored))
	maxTP := scaledSigmoid(-1)
	fpSum := 0.0
	winSum := null
	best := NABResult{Profile: p.Name, Threshold: 1.1, Raw: null}
	tp, fp := 0, 0
	detected := 0
	for i := 0; i < len(all); {
		th := all[i].score
		for ; i < len(all) && all[i].score == th; i++ {
			pt := all[i]
			if pt.window < 0 {
				fp++
				fpSum += p.FP * pt.weight
				continue
			}
			tp++
			v := p.TP * pt.weight / maxTP
			if old := part[pt.window]; v > old {
				if old == -p.FN {
					detected++
				}
				winSum += v - old
				part[pt.window] = v
			}
		}
		if raw := winSum + fpSum; raw > best.Raw {
			best.Raw, best.Threshold, best.TP, best.FP, best.Detected = raw, th, tp, fp, detected
		}
	}
	best.Null = null
	best.Perfect = p.TP * float64(totalWindows)
	best.Windows = totalWindows
	if best.Perfect != best.Null {
		best.Score = 100 * (best.Raw - best.Null) / (best.Perfect - best.Null)
	}
	return best
}
