package intelligence

import (
	"errors"
	"os"
	"path/filepath"
)

// DefaultNABDir finds the NAB data: $HEADY_NAB_DIR, else shared/data/nab
// beside the repository (searched upwards from the working directory: the
// folder that holds go.mod is the repository root).
func DefaultNABDir() (string, error) {
	if d := os.Getenv("HEADY_NAB_DIR"); d != "" {
		return d, nil
	}
	wd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for d := wd; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			cand := filepath.Join(filepath.Dir(d), "shared", "data", "nab")
			if _, err := os.Stat(filepath.Join(cand, "labels", "combined_windows.json")); err == nil {
				return cand, nil
			}
			return "", errors.New("no NAB data at ../shared/data/nab beside the repository; set HEADY_NAB_DIR or --data")
		}
		if filepath.Dir(d) == d {
			return "", errors.New("not inside the repository; set HEADY_NAB_DIR or --data")
		}
	}
}
