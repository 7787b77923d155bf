// Package intelligence learns from what the host records and suggests
// automation.
//
//   - Repeated action sequences: each actor's audit entries are split into
//     sessions at idle gaps (Sessionize); PrefixSpan mines the exact set of
//     frequent sequences (support counted in distinct sessions, then
//     filtered by distinct days); closed and maximal patterns are kept
//     (MinePatterns) and a maximal pattern whose actions map to workflow
//     steps becomes a suggestion carrying a generated workflow in HCL
//     (WorkflowForPattern: heady.run_workflow and heady.emit_event steps).
//   - Behaviour insights: power users, focused activities, peak hours,
//     actions that usually fail (BehaviourInsights), and bursts of repeated
//     authentication, workflow or healing failures (FailureBursts).
//   - Reliability and performance: steps failing with transient errors and
//     no retry, steps timing out, workflows that always fail, the slowest
//     steps by p95, with counts and example execution ids
//     (ReliabilityFindings).
//   - Load forecasting: Holt-Winters with additive, multiplicative or log
//     -scale seasons and damped trends, the season (none, daily, weekly)
//     chosen from the data, parameters fitted for the forecast horizon, and
//     prediction intervals (FitHoltWintersAuto, Forecast). Forecasts are
//     stored and compared with what then happened (Report.Accuracy).
//   - Anomaly detection: a streaming, causal detector (Detector) scoring
//     each sample in [0, 1].
//
// Suggestions have a lifecycle (pending, applied, dismissed) persisted in
// the store under the intel/ key space; applying one that carries a policy
// checks that the policy set still loads with it, then writes
// suggested-ID.hcl into the policies directory atomically (the host
// reloads it); undo removes the file again.
//
// Evaluation: ScoreNAB implements the Numenta Anomaly Benchmark scoring
// (scaled sigmoid in windows, the three application profiles, probation,
// normalisation between the null and the perfect detector, one threshold
// for the corpus); EvaluateForecast measures MASE and sMAPE of Holt-Winters
// against naive and seasonal naive forecasts by rolling origin. The
// commands `heady intel nab` and `heady intel forecast` run them over the
// NAB data found beside the repository (../shared/data/nab, or
// HEADY_NAB_DIR, or --data).
package intelligence
