package intelligence

import "math"

// windowedGaussian is NAB's windowed Gaussian baseline detector.
func windowedGaussian(values []float64) []float64 {
	const size, step = 6400, 100
	var win, buf []float64
	mean, std := 0.0, 1.0
	update := func() {
		s := 0.0
		for _, v := range win {
			s += v
		}
		mean = s / float64(len(win))
		q := 0.0
		for _, v := range win {
			q += (v - mean) * (v - mean)
		}
		std = math.Sqrt(q / float64(len(win)))
		if std == 0 {
			std = 0.000001
		}
	}
	out := make([]float64, len(values))
	for i, x := range values {
		if len(win) > 0 {
			xp := x
			if xp < mean {
				xp = 2*mean - xp
			}
			out[i] = 1 - 0.5*math.Erfc((xp-mean)/std/math.Sqrt2)
		}
		if len(win) < size {
			win = append(win, x)
			update()
		} else {
			buf = append(buf, x)
			if len(buf) == step {
				win = append(win[step:], buf...)
				buf = nil
				update()
			}
		}
	}
	return out
}
