package main

import (
	"fmt"
	"io"
	"math"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/heady-dev/heady/host/intelligence"
)

// intelCmd groups the intelligence evaluation tools.
func intelCmd() *cobra.Command {
	c := &cobra.Command{Use: "intel", Short: "Evaluate the intelligence engine's detector and forecaster on the NAB data"}
	c.AddCommand(intelNABCmd(), intelForecastCmd())
	return c
}

func nabData(flag string) (string, error) {
	if flag != "" {
		return flag, nil
	}
	d, err := intelligence.DefaultNABDir()
	if err != nil {
		return "", fmt.Errorf("NAB data: %w", err)
	}
	return d, nil
}

func intelNABCmd() *cobra.Command {
	var dir string
	c := &cobra.Command{
		Use:   "nab",
		Short: "Run the anomaly detector over the NAB corpus and print the normalised NAB scores",
		Long: "Runs the streaming anomaly detector over every NAB series (one score per row, causal), " +
			"then scores the corpus under the standard, reward_low_FP_rate and reward_low_FN_rate profiles " +
			"with one threshold per profile for the whole corpus, as NAB's optimiser does. " +
			"The data folder defaults to $HEADY_NAB_DIR or ../shared/data/nab beside the repository.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			d, err := nabData(dir)
			if err != nil {
				return err
			}
			return runNAB(cmd.OutOrStdout(), d)
		},
	}
	c.Flags().StringVar(&dir, "data", "", "NAB data folder (holds data/ and labels/)")
	return c
}

func runNAB(w io.Writer, dir string) error {
	start := time.Now()
	series, err := intelligence.LoadNAB(dir)
	if err != nil {
		return err
	}
	cfg := intelligence.DefaultDetectorConfig()
	scores := make([][]float64, len(series))
	rows, windows := 0, 0
	for i, s := range series {
		scores[i] = intelligence.DetectSeries(cfg, s.Values)
		rows += len(s.Values)
		windows += len(s.Windows)
	}
	elapsed := time.Since(start)
	fmt.Fprintf(w, "NAB: %d series, %d rows, %d windows; detector ran in %s (%.0f rows/s)\n\n",
		len(series), rows, windows, elapsed.Round(time.Millisecond), float64(rows)/elapsed.Seconds())
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "profile\tscore\tthreshold\tTP rows\tFP rows\twindows detected\t")
	for _, p := range intelligence.NABProfiles {
		r := intelligence.ScoreNAB(series, scores, p)
		fmt.Fprintf(tw, "%s\t%.1f\t%.4f\t%d\t%d\t%d/%d\t\n", p.Name, r.Score, r.Threshold, r.TP, r.FP, r.Detected, r.Windows)
	}
	return tw.Flush()
}

func intelForecastCmd() *cobra.Command {
	var dir string
	var every int
	c := &cobra.Command{
		Use:   "forecast",
		Short: "Report Holt-Winters forecast accuracy (MASE, sMAPE) against naive baselines on NAB traffic and utilisation series",
		Long: "Averages each NAB traffic or utilisation series (realAWSCloudwatch, realTweets, realTraffic) into hours, " +
			"then from one week in, every --every hours, refits Holt-Winters on the past only and compares its forecast " +
			"1 and 24 hours ahead with what happened, beside the naive and seasonal naive (one day) forecasts.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			d, err := nabData(dir)
			if err != nil {
				return err
			}
			return runForecastEval(cmd.OutOrStdout(), d, every)
		},
	}
	c.Flags().StringVar(&dir, "data", "", "NAB data folder (holds data/ and labels/)")
	c.Flags().IntVar(&every, "every", 6, "hours between forecast origins")
	return c
}

func runForecastEval(w io.Writer, dir string, every int) error {
	series, err := intelligence.LoadNAB(dir)
	if err != nil {
		return err
	}
	horizons := []int{1, 24}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "series\thours\tseason\tHW 1h\tnaive 1h\tsnaive 1h\tHW 24h\tnaive 24h\tsnaive 24h\tHW/snaive 24h\tsMAPE HW 24h\tsMAPE snaive 24h\t")
	med := map[string][]float64{}
	for _, s := range series {
		if !intelligence.ForecastSeries(s.Name) {
			continue
		}
		y := intelligence.Hourly(s.Times, s.Values)
		ev := intelligence.EvaluateForecast(s.Name, y, horizons, every)
		if ev.HW[24].N == 0 {
			continue
		}
		rel := ev.HW[24].MAE / ev.Seasonal[24].MAE
		cols := map[string]float64{
			"hw1": ev.HW[1].MASE, "nv1": ev.Naive[1].MASE, "sn1": ev.Seasonal[1].MASE,
			"hw24": ev.HW[24].MASE, "nv24": ev.Naive[24].MASE, "sn24": ev.Seasonal[24].MASE, "rel": rel,
			"sm24": ev.HW[24].SMAPE, "smsn24": ev.Seasonal[24].SMAPE,
		}
		for k, v := range cols {
			if !math.IsNaN(v) && !math.IsInf(v, 0) {
				med[k] = append(med[k], v)
			}
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%.3f\t%.3f\t%.3f\t%.3f\t%.3f\t%.3f\t%.3f\t%.1f\t%.1f\t\n", s.Name, ev.Hours, ev.Period,
			cols["hw1"], cols["nv1"], cols["sn1"], cols["hw24"], cols["nv24"], cols["sn24"], rel, cols["sm24"], cols["smsn24"])
	}
	m := func(k string) float64 { return intelligence.Median(med[k]) }
	fmt.Fprintf(tw, "MEDIAN\t\t\t%.3f\t%.3f\t%.3f\t%.3f\t%.3f\t%.3f\t%.3f\t%.1f\t%.1f\t\n",
		m("hw1"), m("nv1"), m("sn1"), m("hw24"), m("nv24"), m("sn24"), m("rel"), m("sm24"), m("smsn24"))
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(w, "\nColumns HW/naive/snaive are MASE (scale: in-sample MAE of the one-day seasonal naive forecast);")
	fmt.Fprintln(w, "HW/snaive 24h is Holt-Winters' out-of-sample MAE relative to seasonal naive at 24 hours (below 1 beats it).")
	return nil
}
