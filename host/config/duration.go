package config

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// durationHint is appended to every duration diagnostic.
const durationHint = `use a number followed by a unit: ms, s, m, h, d — for example "30s"`

var durationUnits = map[string]time.Duration{
	"ms": time.Millisecond,
	"s":  time.Second,
	"m":  time.Minute,
	"h":  time.Hour,
	"d":  24 * time.Hour,
}

// ParseDuration parses policy durations: one or more decimal numbers each
// followed by a unit (ms, s, m, h, d), such as "30s", "1h30m", "1.5h" or
// "7d". "0" alone is zero. Negative durations are not accepted.
func ParseDuration(s string) (time.Duration, error) {
	in := strings.TrimSpace(s)
	if in == "" {
		return 0, fmt.Errorf("empty duration")
	}
	if in == "0" {
		return 0, nil
	}
	if strings.HasPrefix(in, "-") {
		return 0, fmt.Errorf("%q: negative durations are not allowed", in)
	}
	var total float64
	rest := in
	for rest != "" {
		i := 0
		for i < len(rest) && (rest[i] >= '0' && rest[i] <= '9' || rest[i] == '.') {
			i++
		}
		if i == 0 {
			return 0, fmt.Errorf("%q: expected a number at %q", in, rest)
		}
		num, err := strconv.ParseFloat(rest[:i], 64)
		if err != nil {
			return 0, fmt.Errorf("%q: invalid number %q", in, rest[:i])
		}
		rest = rest[i:]
		j := 0
		for j < len(rest) && (rest[j] < '0' || rest[j] > '9') && rest[j] != '.' {
			j++
		}
		unit := rest[:j]
		if unit == "" {
			return 0, fmt.Errorf("%q: missing unit after %s", in, strconv.FormatFloat(num, 'f', -1, 64))
		}
		mult, ok := durationUnits[unit]
		if !ok {
			return 0, fmt.Errorf("%q: unknown unit %q", in, unit)
		}
		rest = rest[j:]
		total += num * float64(mult)
		if total > math.MaxInt64 {
			return 0, fmt.Errorf("%q: duration too large", in)
		}
	}
	return time.Duration(total), nil
}
