package intelligence

import (
	"math"
	"math/rand"
	"testing"
)

func noisySine(n int, seed int64) []float64 {
	rng := rand.New(rand.NewSource(seed))
	y := make([]float64, n)
	for i := range y {
		y[i] = 50 + 10*math.Sin(2*math.Pi*float64(i)/100) + rng.NormFloat64()
	}
	return y
}

func TestDetectorScoresInRangeAndCausal(t *testing.T) {
	y := noisySine(3000, 1)
	full := DetectSeries(DefaultDetectorConfig(), y)
	for i, s := range full {
		if s < 0 || s > 1 || math.IsNaN(s) {
			t.Fatalf("score %v at %d out of [0, 1]", s, i)
		}
	}
	// causal: the scores of a prefix do not depend on what follows
	for _, cut := range []int{400, 1500, 2999} {
		pre := DetectSeries(DefaultDetectorConfig(), y[:cut])
		for i := range pre {
			if pre[i] != full[i] {
				t.Fatalf("score at %d changes when later samples are added", i)
			}
		}
	}
}

func TestDetectorFlagsLevelShiftNotNoise(t *testing.T) {
	y := noisySine(3000, 2)
	for i := 2000; i < 2100; i++ {
		y[i] += 40 // a jump far outside the usual range
	}
	sc := DetectSeries(DefaultDetectorConfig(), y)
	maxBefore, maxAt := 0.0, 0.0
	for i := 1000; i < 2000; i++ {
		maxBefore = math.Max(maxBefore, sc[i])
	}
	for i := 2000; i < 2010; i++ {
		maxAt = math.Max(maxAt, sc[i])
	}
	if maxAt < 0.9 {
		t.Errorf("level shift scored %.2f, want >= 0.9", maxAt)
	}
	if maxBefore >= maxAt {
		t.Errorf("normal samples scored up to %.2f, the anomaly %.2f", maxBefore, maxAt)
	}
}

func TestDetectorHandlesFlatAndNaN(t *testing.T) {
	y := make([]float64, 1000)
	y[500] = math.NaN()
	for i, s := range DetectSeries(DefaultDetectorConfig(), y) {
		if math.IsNaN(s) || s < 0 || s > 1 {
			t.Fatalf("score %v at %d", s, i)
		}
	}
}

// TestNABStandardScore runs the detector over the NAB corpus (when the data
// is beside the repository) and keeps the measured quality from regressing.
func TestNABStandardScore(t *testing.T) {
	if testing.Short() {
		t.Skip("reads the NAB corpus")
	}
	series, err := LoadNAB(testNABDir(t))
	if err != nil {
		t.Skip(err)
	}
	scores := make([][]float64, len(series))
	for i, s := range series {
		scores[i] = DetectSeries(DefaultDetectorConfig(), s.Values)
	}
	r := ScoreNAB(series, scores, NABProfiles[0])
	t.Logf("NAB standard %.1f (threshold %.4f, %d/%d windows)", r.Score, r.Threshold, r.Detected, r.Windows)
	if r.Score < 70 {
		t.Errorf("NAB standard score %.1f regressed below 70", r.Score)
	}
}
