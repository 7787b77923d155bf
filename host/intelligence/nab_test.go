package intelligence

import (
	"math"
	"os"
	"path/filepath"
	"testing"
)

// one file of 100 rows (probation 15) with one window over rows 50..59
func nabCase(dets map[int]float64) ([]NABSeries, [][]float64) {
	s := NABSeries{Name: "x/one.csv", Values: make([]float64, 100), Windows: [][2]int{{50, 59}}}
	sc := make([]float64, 100)
	for i, v := range dets {
		sc[i] = v
	}
	return []NABSeries{s}, [][]float64{sc}
}

func TestScoreNABHandComputed(t *testing.T) {
	std, lowFN := NABProfiles[0], NABProfiles[2]
	cases := []struct {
		name    string
		dets    map[int]float64
		profile NABProfile
		want    float64
		tp, fp  int
	}{
		// left edge: sigma(-1)/sigma(-1) = 1, raw 1, null -1, perfect 1
		{"detection at the left edge is perfect", map[int]float64{50: 1}, std, 100, 1, 0},
		// right edge: position -1/10, sigma(-0.1)/sigma(-1) = 0.248242
		{"detection at the right edge", map[int]float64{59: 1}, std, 62.4120775, 1, 0},
		{"right edge, reward_low_FN_rate", map[int]float64{59: 1}, lowFN, 74.9413850, 1, 0},
		// only the earliest detection in a window counts
		{"two detections in a window count once", map[int]float64{50: 1, 55: 1}, std, 100, 2, 0},
		// a false positive before any window costs the full fpWeight
		{"false positive before the window", map[int]float64{20: 1, 50: 1}, std, 94.5, 1, 1},
		// after the window: y = 3/9, sigma(1/3) = -0.682262, cost 0.11 * that
		{"false positive after the window", map[int]float64{62: 1, 50: 1}, std, 96.2475602, 1, 1},
		// rows in the probationary period (first 15) are not scored
		{"probation is ignored", map[int]float64{5: 1, 50: 1}, std, 100, 1, 0},
		// the threshold sweep drops the lower-scored false positives
		{"threshold excludes weaker false positives", map[int]float64{20: 0.5, 30: 0.5, 50: 0.9}, std, 100, 1, 0},
		{"null detector", map[int]float64{}, std, 0, 0, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s, sc := nabCase(c.dets)
			r := ScoreNAB(s, sc, c.profile)
			if math.Abs(r.Score-c.want) > 1e-6 {
				t.Errorf("score %.7f, want %.7f (%+v)", r.Score, c.want, r)
			}
			if r.TP != c.tp || r.FP != c.fp {
				t.Errorf("tp %d fp %d, want %d %d", r.TP, r.FP, c.tp, c.fp)
			}
		})
	}
}

func TestNABProbation(t *testing.T) {
	for rows, want := range map[int]int{100: 15, 1000: 150, 4032: 604, 5000: 750, 22695: 750} {
		if got := NABProbation(rows); got != want {
			t.Errorf("NABProbation(%d) = %d, want %d", rows, got, want)
		}
	}
}

func TestLoadNABWindowsFromLabels(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "data", "cat"), 0o755)
	os.MkdirAll(filepath.Join(dir, "labels"), 0o755)
	csv := "timestamp,value\n2015-01-01 00:00:00,1\n2015-01-01 00:05:00,2\n2015-01-01 00:10:00,3\n2015-01-01 00:15:00,4\n"
	os.WriteFile(filepath.Join(dir, "data", "cat", "a.csv"), []byte(csv), 0o644)
	os.WriteFile(filepath.Join(dir, "labels", "combined_windows.json"),
		[]byte(`{"cat/a.csv": [["2015-01-01 00:05:00.000000", "2015-01-01 00:10:00.000000"]], "cat/missing.csv": []}`), 0o644)
	ss, err := LoadNAB(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(ss) != 1 || len(ss[0].Values) != 4 || ss[0].Values[3] != 4 {
		t.Fatalf("loaded %+v", ss)
	}
	if len(ss[0].Windows) != 1 || ss[0].Windows[0] != [2]int{1, 2} {
		t.Errorf("windows %v, want [[1 2]]", ss[0].Windows)
	}
}

// NABDir finds the benchmark data for tests: HEADY_NAB_DIR or ../shared/data/nab
// beside the repository.
func testNABDir(t *testing.T) string {
	if d := os.Getenv("HEADY_NAB_DIR"); d != "" {
		return d
	}
	d, err := DefaultNABDir()
	if err != nil {
		t.Skipf("NAB data not found: %v", err)
	}
	return d
}

// TestWindowedGaussianMatchesPublished checks the scorer end to end: NAB's
// windowed Gaussian baseline scores 39.6 / 20.9 / 47.4 on the full corpus;
// on this subset it must land close.
func TestWindowedGaussianMatchesPublished(t *testing.T) {
	if testing.Short() {
		t.Skip("reads the NAB corpus")
	}
	series, err := LoadNAB(testNABDir(t))
	if err != nil {
		t.Skip(err)
	}
	scores := make([][]float64, len(series))
	for i, s := range series {
		scores[i] = windowedGaussian(s.Values)
	}
	want := []float64{39.6, 20.9, 47.4}
	for i, p := range NABProfiles {
		r := ScoreNAB(series, scores, p)
		if math.Abs(r.Score-want[i]) > 3 {
			t.Errorf("%s: windowed Gaussian scores %.1f, published %.1f", p.Name, r.Score, want[i])
		}
	}
}
