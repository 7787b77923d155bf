package workflow

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/heady-dev/heady/host/config"
	"github.com/heady-dev/heady/host/events"
	"github.com/heady-dev/heady/host/store"
	"github.com/zclconf/go-cty/cty"
)

// Cancellation causes of an execution's context.
var (
	errUserCancel     = errors.New("cancelled")
	errCancelPrevious = errors.New("cancelled by a newer execution (concurrency cancel_previous)")
)

// run is one live execution. A single coordinator goroutine (loop) owns its
// state; attempts run in their own goroutines and report back on results.
type run struct {
	e   *Engine
	def *wfDef
	h   header

	mu       sync.Mutex
	ctx      context.Context
	cancel   context.CancelCauseFunc
	cancelBy error // user cancel or cancel_previous, once requested
	cancelT  context.CancelFunc

	phase   int // 0 main, 1 on_failure
	phases  [2][]*stepRun
	failure *ErrorInfo

	results chan attemptResult
	wakes   chan *itemRun
	running int // attempts in flight
	waiting int // retry timers pending

	ops      []store.Op
	updates  []Update
	launches []*launch
	after    []func()

	base    map[string]cty.Value
	stepObj cty.Value
	dirty   bool

	// stored state to resume from (nil for new executions)
	prior      *stored
	dispatched bool
	done       chan struct{}
}

type stepRun struct {
	def      *config.Step
	phase    string
	idx      int
	status   Status
	items    []*itemRun
	isMap    bool
	expanded bool
	started  time.Time
	output   cty.Value
	outGo    any
	err      *ErrorInfo
	reused   string
	prior    map[int][]*Attempt
}

type itemRun struct {
	step    *stepRun
	idx     int
	label   string
	key     cty.Value
	value   cty.Value
	each    bool
	status  Status // pending, running, succeeded, failed, cancelled
	wait    bool   // waiting for a retry timer
	used    int    // attempts counted against the retry budget
	lastN   int
	outputs map[string]any
	cur     *Attempt
	err     *ErrorInfo
	timer   *time.Timer
}

type launch struct {
	item    *itemRun
	call    ActionCall
	timeout time.Duration
}

type attemptResult struct {
	item     *itemRun
	res      ActionResult
	err      error
	timedOut bool
	ended    time.Time
}

func newRun(e *Engine, def *wfDef, h header) *run {
	r := &run{e: e, def: def, h: h, results: make(chan attemptResult), wakes: make(chan *itemRun, 16), done: make(chan struct{})}
	r.ctx, r.cancel = context.WithCancelCause(e.runCtx)
	if def != nil && def.cfg.Timeout > 0 {
		start := h.StartedAt
		if start.IsZero() {
			start = e.now()
		}
		r.ctx, r.cancelT = context.WithDeadline(r.ctx, start.Add(def.cfg.Timeout))
	}
	if def != nil {
		for p, pd := range []*phaseDef{def.main, def.onFail} {
			for i, sd := range pd.steps {
				r.phases[p] = append(r.phases[p], &stepRun{def: sd, phase: pd.name, idx: i, status: StatusPending, output: cty.EmptyObjectVal})
			}
		}
	}
	return r
}

// requestCancel asks the execution to stop; running attempts see their
// context cancelled.
func (r *run) requestCancel(cause error) {
	r.mu.Lock()
	if r.cancelBy == nil {
		r.cancelBy = cause
	}
	c := r.cancel
	r.mu.Unlock()
	c(cause)
}

func (r *run) cancelCause() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.cancelBy
}

func (r *run) now() time.Time { return r.e.now() }

func (r *run) update(step string, item string, attempt int, st Status, err *ErrorInfo) {
	if !r.e.hasSubs.Load() {
		return
	}
	r.updates = append(r.updates, Update{ExecutionID: r.h.ID, Workflow: r.h.Workflow, Step: step, Item: item, Attempt: attempt, Status: st, Time: r.now(), Error: err})
}

// flush commits the collected transitions, then acts on them.
func (r *run) flush() bool {
	if len(r.ops) > 0 {
		if err := r.e.st.Apply(context.Background(), r.ops...); err != nil {
			r.e.log.Error("workflow: write execution state", "execution", r.h.ID, "err", err)
			r.ops = nil
			r.launches = nil
			r.after = nil
			return false
		}
	}
	r.ops = r.ops[:0]
	for _, u := range r.updates {
		r.e.publish(u)
	}
	r.updates = r.updates[:0]
	for _, l := range r.launches {
		go r.exec(l)
	}
	r.launches = r.launches[:0]
	for _, f := range r.after {
		f()
	}
	r.after = r.after[:0]
	return true
}

// loop drives the execution to its end (or until the engine stops).
func (r *run) loop() {
	defer close(r.done)
	defer func() {
		r.mu.Lock()
		c := r.cancel
		r.mu.Unlock()
		c(nil)
		if r.cancelT != nil {
			r.cancelT()
		}
	}()
	if !r.restore() {
		r.flush()
		return
	}
	if r.h.Status == StatusPending {
		r.h.Status = StatusRunning
		r.h.StartedAt = r.now()
		r.ops = append(r.ops, putHeader(&r.h))
		r.update("", "", 0, StatusRunning, nil)
	}
	var handled context.Context
	var ctxDone <-chan struct{}
	stopCh := r.e.stopCh
	for {
		finished := r.advance()
		if !r.flush() || finished {
			return
		}
		if r.running == 0 && (r.e.stopping.Load() || r.e.runCtx.Err() != nil) {
			return // resumed on the next start
		}
		r.mu.Lock()
		if r.ctx != handled {
			handled = r.ctx
			ctxDone = r.ctx.Done()
		}
		r.mu.Unlock()
		select {
		case res := <-r.results:
			r.running--
			r.handleResult(res)
		case it := <-r.wakes:
			if it.wait {
				it.wait = false
				r.waiting--
				it.status = StatusPending
			}
		case <-ctxDone:
			ctxDone = nil
			r.onContextDone()
		case <-stopCh:
			// Graceful stop: no new attempts; wait for running ones.
			stopCh = nil
			r.stopTimers()
		}
	}
}

func (r *run) stopTimers() {
	for _, ph := range r.phases {
		for _, s := range ph {
			for _, it := range s.items {
				if it.timer != nil {
					it.timer.Stop()
				}
			}
		}
	}
}

// onContextDone handles user cancellation, cancel_previous and the workflow
// timeout.
func (r *run) onContextDone() {
	if r.e.runCtx.Err() != nil {
		return // hard stop: attempts are abandoned and re-run on restart
	}
	cause := r.cancelCause()
	if cause == nil && r.failure == nil && r.phase == 0 {
		r.failure = &ErrorInfo{Code: "timeout", Message: fmt.Sprintf("workflow timed out after %s", r.def.cfg.Timeout)}
	}
	r.dropWaits()
}

// dropWaits abandons pending retries.
func (r *run) dropWaits() {
	for _, s := range r.phases[r.phase] {
		for _, it := range s.items {
			if it.wait {
				it.wait = false
				r.waiting--
				if it.timer != nil {
					it.timer.Stop()
				}
				it.status = StatusCancelled
				it.err = &ErrorInfo{Code: "cancelled", Message: "execution ended before the retry"}
			}
		}
	}
}

func (r *run) curSteps() []*stepRun { return r.phases[r.phase] }

// advance starts whatever can start and detects the end of a phase. It
// returns true once the execution's final transition is queued.
func (r *run) advance() bool {
	stopping := r.e.stopping.Load() || r.e.runCtx.Err() != nil
	for {
		changed := false
		if r.phase == 0 && r.failure != nil {
			r.dropWaits()
		}
		if !stopping && r.ctx.Err() == nil {
			for _, s := range r.curSteps() {
				if r.stepProgress(s) {
					changed = true
				}
			}
		}
		// Settle steps whose items are all done.
		for _, s := range r.curSteps() {
			if r.e.runCtx.Err() == nil && s.status == StatusRunning && r.settle(s) {
				changed = true
			}
		}
		if !changed {
			break
		}
	}
	if stopping || r.running > 0 || r.waiting > 0 {
		return false
	}
	// Nothing in flight: is the phase over?
	if cause := r.cancelCause(); cause != nil {
		r.cancelRemaining()
		msg := cause.Error()
		return r.finish(StatusCancelled, &ErrorInfo{Code: "cancelled", Message: msg})
	}
	if r.phase == 0 {
		if r.failure != nil {
			r.cancelRemaining()
			if len(r.phases[1]) == 0 {
				return r.finish(StatusFailed, r.failure)
			}
			r.phase = 1
			r.h.Phase = phaseFailure
			r.h.Error = r.failure
			r.ops = append(r.ops, putHeader(&r.h))
			// on_failure steps get a fresh context: the workflow
			// timeout no longer applies, cancellation still does.
			ctx, cancel := context.WithCancelCause(r.e.runCtx)
			r.mu.Lock()
			old := r.cancel
			r.ctx, r.cancel = ctx, cancel
			if r.cancelBy != nil {
				cancel(r.cancelBy)
			}
			r.mu.Unlock()
			old(nil)
			r.dirty = true
			return r.advance()
		}
		for _, s := range r.curSteps() {
			if !s.status.Finished() {
				r.failure = &ErrorInfo{Step: s.def.Name, Code: "internal", Message: "step could not be scheduled"}
				return r.advance()
			}
		}
		return r.finish(StatusSucceeded, nil)
	}
	for _, s := range r.curSteps() {
		if !s.status.Finished() {
			s.status = StatusSkipped
			s.err = &ErrorInfo{Step: s.def.Name, Code: "not_run", Message: "not run"}
			r.ops = append(r.ops, putStep(r.h.ID, r.stepState(s)))
		}
	}
	return r.finish(StatusFailed, r.failure)
}

// cancelRemaining marks steps that never finished as cancelled.
func (r *run) cancelRemaining() {
	for _, s := range r.curSteps() {
		if s.status == StatusRunning {
			s.status = StatusCancelled
			if s.err == nil {
				s.err = &ErrorInfo{Step: s.def.Name, Code: "cancelled", Message: "execution ended"}
			}
			s.output = r.aggregate(s)
			r.ops = append(r.ops, putStep(r.h.ID, r.stepState(s)))
			r.update(s.def.Name, "", 0, s.status, s.err)
		}
	}
}

// stepProgress starts a pending step whose dependencies are done, or launches
// more items of a running step. It reports whether anything changed.
func (r *run) stepProgress(s *stepRun) bool {
	switch s.status {
	case StatusPending:
		if r.phase == 0 && r.failure != nil {
			return false
		}
		deps := r.curPhaseDef().deps[s.idx]
		for _, d := range deps {
			ds := r.curSteps()[d]
			switch ds.status {
			case StatusSucceeded, StatusSkipped:
			case StatusFailed, StatusCancelled:
				// Only reachable in the on_failure phase.
				s.status = StatusSkipped
				s.err = &ErrorInfo{Step: s.def.Name, Code: "dependency_failed", Message: "dependency " + ds.def.Name + " did not succeed"}
				r.ops = append(r.ops, putStep(r.h.ID, r.stepState(s)))
				r.dirty = true
				return true
			default:
				return false
			}
		}
		r.startStep(s)
		return true
	case StatusRunning:
		if r.phase == 0 && r.failure != nil {
			return false
		}
		return r.launchItems(s)
	}
	return false
}

func (r *run) curPhaseDef() *phaseDef {
	if r.phase == 0 {
		return r.def.main
	}
	return r.def.onFail
}

func (r *run) startStep(s *stepRun) {
	s.status = StatusRunning
	s.started = r.now()
	if s.prior == nil && s.def.If != nil {
		ok, err := evalBool(s.def.If, r.evalCtx(nil))
		if err != nil {
			r.failStep(s, &ErrorInfo{Step: s.def.Name, Code: "expression", Message: "if: " + err.Error()})
			return
		}
		if !ok {
			s.status = StatusSkipped
			r.ops = append(r.ops, putStep(r.h.ID, r.stepState(s)))
			r.update(s.def.Name, "", 0, StatusSkipped, nil)
			r.dirty = true
			return
		}
	}
	if s.def.ForEach != nil {
		v, diags := s.def.ForEach.Value(r.evalCtx(nil))
		if diags.HasErrors() {
			r.failStep(s, &ErrorInfo{Step: s.def.Name, Code: "expression", Message: "for_each: " + diags.Error()})
			return
		}
		items, isMap, err := forEachItems(s.def.ForEach, v)
		if err != nil {
			r.failStep(s, &ErrorInfo{Step: s.def.Name, Code: "expression", Message: "for_each: " + err.Error()})
			return
		}
		s.isMap = isMap
		for i, fi := range items {
			s.items = append(s.items, &itemRun{step: s, idx: i, label: fi.label, key: fi.key, value: fi.value, each: true, status: StatusPending})
		}
	} else {
		s.items = []*itemRun{{step: s, status: StatusPending}}
	}
	s.expanded = true
	for _, it := range s.items {
		r.applyPrior(it, s.prior[it.idx])
	}
	r.update(s.def.Name, "", 0, StatusRunning, nil)
}

// applyPrior restores an item's attempts recorded before a restart.
func (r *run) applyPrior(it *itemRun, atts []*Attempt) {
	for _, a := range atts {
		if a.Attempt > it.lastN {
			it.lastN = a.Attempt
		}
		if !a.Interrupted && !a.EndedAt.IsZero() {
			it.used++
		}
	}
	if len(atts) == 0 {
		return
	}
	last := atts[len(atts)-1]
	switch {
	case last.EndedAt.IsZero() && !last.Interrupted:
		// Started, never ended: at-least-once, run it again.
		last.Interrupted = true
		last.Status = StatusFailed
		last.Error = &ErrorInfo{Code: "interrupted", Message: "the host stopped during this attempt; it is run again"}
		r.ops = append(r.ops, putAttempt(r.h.ID, it.step.phase, it.step.def.Name, last))
	case last.Interrupted:
	case last.Status == StatusSucceeded:
		it.status = StatusSucceeded
		it.outputs = last.Outputs
	case !last.NextAttemptAt.IsZero():
		r.scheduleRetry(it, last.NextAttemptAt)
	default:
		it.status = StatusFailed
		it.err = last.Error
	}
}

func (r *run) failStep(s *stepRun, err *ErrorInfo) {
	s.status = StatusFailed
	s.err = err
	r.ops = append(r.ops, putStep(r.h.ID, r.stepState(s)))
	r.update(s.def.Name, "", 0, StatusFailed, err)
	if r.phase == 0 && r.failure == nil {
		r.failure = err
	}
	r.dirty = true
}

func (r *run) launchItems(s *stepRun) bool {
	limit := len(s.items)
	if s.def.ForEach != nil {
		c := s.def.ForEachConcurrency
		if c <= 0 {
			c = 4
		}
		limit = c
	}
	active := 0
	for _, it := range s.items {
		if it.status == StatusRunning || it.wait {
			active++
		}
	}
	changed := false
	for _, it := range s.items {
		if active >= limit {
			break
		}
		if it.status != StatusPending || it.wait {
			continue
		}
		// Stop fanning out once an item failed for good.
		if s.err != nil {
			break
		}
		r.startAttempt(it)
		active++
		changed = true
	}
	return changed
}

func (r *run) startAttempt(it *itemRun) {
	s := it.step
	ctx := r.evalCtx(it)
	inputs := map[string]any{}
	for name, expr := range s.def.Input {
		v, diags := expr.Value(ctx)
		if diags.HasErrors() {
			it.status = StatusFailed
			it.err = &ErrorInfo{Step: s.def.Name, Code: "expression", Message: "input " + name + ": " + diags.Error()}
			s.err = it.err
			return
		}
		g, err := fromCty(v)
		if err != nil {
			it.status = StatusFailed
			it.err = &ErrorInfo{Step: s.def.Name, Code: "expression", Message: fmt.Sprintf("input %s: %s: %v", name, expr.Range(), err)}
			s.err = it.err
			return
		}
		inputs[name] = g
	}
	it.lastN++
	n := it.lastN
	stepID := s.def.Name
	if it.each {
		stepID += "[" + it.label + "]"
	}
	key := fmt.Sprintf("%s/%s/%d", r.h.ID, stepID, n)
	a := &Attempt{Item: it.label, ItemIndex: it.idx, Attempt: n, IdempotencyKey: key, Status: StatusRunning, StartedAt: r.now(), Inputs: inputs}
	it.cur = a
	it.status = StatusRunning
	r.running++
	r.ops = append(r.ops, putAttempt(r.h.ID, s.phase, s.def.Name, a))
	r.update(s.def.Name, it.label, n, StatusRunning, nil)
	timeout := s.def.Timeout
	if timeout <= 0 {
		timeout = r.e.opts.DefaultStepTimeout
	}
	r.launches = append(r.launches, &launch{item: it, timeout: timeout, call: ActionCall{
		Action: s.def.Action, Inputs: inputs, IdempotencyKey: key, ExecutionID: r.h.ID,
		Workflow: r.h.Workflow, Step: s.def.Name, Item: it.label, Attempt: n, NodeLabels: s.def.NodeLabels,
	}})
}

// exec runs one attempt (in its own goroutine).
func (r *run) exec(l *launch) {
	r.mu.Lock()
	parent := r.ctx
	r.mu.Unlock()
	res := attemptResult{item: l.item}
	// The step timeout starts once a worker is free.
	if err := r.e.acquireWorker(parent); err != nil {
		res.err = err
	} else {
		ctx, cancel := context.WithTimeout(parent, l.timeout)
		res.res, res.err = r.e.callAction(ctx, l.call)
		r.e.releaseWorker()
		if ctx.Err() == context.DeadlineExceeded && parent.Err() == nil {
			res.timedOut = true
		}
		cancel()
	}
	res.ended = r.now()
	r.results <- res
}

func (r *run) handleResult(res attemptResult) {
	it := res.item
	s := it.step
	a := it.cur
	if r.e.runCtx.Err() != nil {
		// Hard stop: leave the attempt open; it is re-run on restart.
		it.status = StatusPending
		return
	}
	a.EndedAt = res.ended
	a.Logs = res.res.Logs
	it.used++
	failed := res.err != nil || res.res.ErrorCode != "" || res.res.ErrorMessage != "" || res.timedOut
	if !failed {
		a.Status = StatusSucceeded
		a.Outputs = res.res.Outputs
		it.status = StatusSucceeded
		it.outputs = res.res.Outputs
		r.ops = append(r.ops, putAttempt(r.h.ID, s.phase, s.def.Name, a))
		r.update(s.def.Name, it.label, a.Attempt, StatusSucceeded, nil)
		return
	}
	a.Status = StatusFailed
	e := &ErrorInfo{Step: s.def.Name, Code: res.res.ErrorCode, Message: res.res.ErrorMessage}
	retryable := res.res.Retryable
	switch {
	case r.cancelCause() != nil:
		e.Code, e.Message = "cancelled", r.cancelCause().Error()
		a.Status = StatusCancelled
	case r.ctx.Err() == context.DeadlineExceeded:
		e.Code, e.Message = "timeout", fmt.Sprintf("workflow timed out after %s", r.def.cfg.Timeout)
	case res.timedOut:
		to := s.def.Timeout
		if to <= 0 {
			to = r.e.opts.DefaultStepTimeout
		}
		e.Code, e.Message = "timeout", fmt.Sprintf("step timed out after %s", to)
		retryable = true
	case res.err != nil:
		e.Code, e.Message = "infrastructure", res.err.Error()
		retryable = true
	}
	if e.Code == "" {
		e.Code = "error"
	}
	if e.Message == "" {
		e.Message = e.Code
	}
	a.Error = e
	it.err = e
	retry := r.retryPolicy(s.def)
	canRetry := a.Status != StatusCancelled && r.ctx.Err() == nil && !(r.phase == 0 && r.failure != nil) &&
		it.used < retry.Attempts && retryMatches(retry, e.Code, retryable)
	if canRetry {
		at := res.ended.Add(backoff(retry, it.used))
		a.NextAttemptAt = at
		r.ops = append(r.ops, putAttempt(r.h.ID, s.phase, s.def.Name, a))
		r.update(s.def.Name, it.label, a.Attempt, StatusFailed, e)
		r.scheduleRetry(it, at)
		return
	}
	it.status = a.Status
	r.ops = append(r.ops, putAttempt(r.h.ID, s.phase, s.def.Name, a))
	r.update(s.def.Name, it.label, a.Attempt, a.Status, e)
	if s.err == nil {
		s.err = e
	}
}

func (r *run) scheduleRetry(it *itemRun, at time.Time) {
	it.wait = true
	it.status = StatusPending
	r.waiting++
	d := at.Sub(r.now())
	if d < 0 {
		d = 0
	}
	it.timer = time.AfterFunc(d, func() {
		select {
		case r.wakes <- it:
		case <-r.done:
		}
	})
}

// settle ends a running step once none of its items is active.
func (r *run) settle(s *stepRun) bool {
	if !s.expanded {
		return false
	}
	allOK := true
	for _, it := range s.items {
		switch {
		case it.status == StatusRunning || it.wait:
			return false
		case it.status == StatusPending:
			if s.err == nil && !(r.phase == 0 && r.failure != nil) && r.ctx.Err() == nil {
				return false
			}
			allOK = false
		case it.status != StatusSucceeded:
			allOK = false
		}
	}
	if allOK && s.err == nil {
		s.status = StatusSucceeded
	} else {
		s.status = StatusFailed
		if s.err == nil {
			s.err = &ErrorInfo{Step: s.def.Name, Code: "cancelled", Message: "execution ended"}
			s.status = StatusCancelled
		}
		if s.err.Code == "cancelled" {
			s.status = StatusCancelled
		}
	}
	s.output = r.aggregate(s)
	r.ops = append(r.ops, putStep(r.h.ID, r.stepState(s)))
	r.update(s.def.Name, "", 0, s.status, s.err)
	if s.status != StatusSucceeded && r.phase == 0 && r.failure == nil {
		r.failure = s.err
	}
	r.dirty = true
	return true
}

// aggregate builds step.NAME.output: the outputs of a plain step; a list (or
// a map by key) of the items' outputs for a for_each step.
func (r *run) aggregate(s *stepRun) cty.Value {
	if s.def.ForEach == nil || !s.expanded {
		if len(s.items) == 1 {
			s.outGo = s.items[0].outputs
			v, err := toCty(s.items[0].outputs)
			if err == nil {
				return v
			}
		}
		return cty.EmptyObjectVal
	}
	if s.isMap {
		m := map[string]any{}
		for _, it := range s.items {
			m[it.label] = it.outputs
		}
		s.outGo = m
	} else {
		l := make([]any, len(s.items))
		for i, it := range s.items {
			l[i] = it.outputs
		}
		s.outGo = l
	}
	v, err := toCty(s.outGo)
	if err != nil {
		return cty.EmptyObjectVal
	}
	return v
}

func (r *run) stepState(s *stepRun) *StepState {
	ss := &StepState{Name: s.def.Name, Phase: s.phase, Status: s.status, Error: s.err, StartedAt: s.started, EndedAt: r.now(), ReusedFrom: s.reused}
	if s.status == StatusSucceeded || s.status == StatusFailed || s.status == StatusCancelled {
		ss.Output = s.outGo
	}
	return ss
}

func (r *run) retryPolicy(s *config.Step) config.Retry {
	rp := s.Retry
	if rp == nil {
		rp = r.def.cfg.Retry
	}
	if rp == nil {
		return config.Retry{Attempts: 1}
	}
	out := *rp
	if out.Attempts <= 0 {
		out.Attempts = 3
	}
	if out.Multiplier <= 0 {
		out.Multiplier = 2
	}
	return out
}

// backoff is the delay before attempt n+1 after n failed attempts:
// min(max_delay, initial × multiplier^(n-1)) ± jitter × delay.
func backoff(rp config.Retry, n int) time.Duration {
	d := float64(rp.InitialDelay) * math.Pow(rp.Multiplier, float64(n-1))
	if rp.MaxDelay > 0 && d > float64(rp.MaxDelay) {
		d = float64(rp.MaxDelay)
	}
	if rp.Jitter > 0 {
		d += d * rp.Jitter * (2*rand.Float64() - 1)
	}
	if d < 0 || math.IsNaN(d) {
		d = 0
	}
	if d > float64(math.MaxInt64) {
		d = float64(math.MaxInt64)
	}
	return time.Duration(d)
}

// retryMatches applies retry_on: "any" (default), "transient" (actions that
// mark the failure retryable, infrastructure errors and step timeouts),
// "timeout", or exact error codes.
func retryMatches(rp config.Retry, code string, retryable bool) bool {
	if len(rp.RetryOn) == 0 {
		return true
	}
	for _, c := range rp.RetryOn {
		switch c {
		case "any":
			return true
		case "transient":
			if retryable {
				return true
			}
		case "timeout":
			if code == "timeout" {
				return true
			}
		default:
			if c == code {
				return true
			}
		}
	}
	return false
}

// evalCtx builds the expression context: event, var, step, execution,
// workflow, each (inside for_each) and error (in on_failure steps).
func (r *run) evalCtx(it *itemRun) *hcl.EvalContext {
	if r.base == nil {
		ev, err := eventValue(r.h.Event)
		if err != nil {
			ev = cty.EmptyObjectVal
		}
		r.base = map[string]cty.Value{
			"event":     ev,
			"var":       r.e.varsOf(r.def),
			"execution": cty.ObjectVal(map[string]cty.Value{"id": cty.StringVal(r.h.ID)}),
			"workflow":  cty.ObjectVal(map[string]cty.Value{"name": cty.StringVal(r.h.Workflow)}),
		}
		r.dirty = true
	}
	if r.dirty {
		steps := map[string]cty.Value{}
		for _, s := range r.phases[0] {
			if s.status.Finished() {
				steps[s.def.Name] = cty.ObjectVal(map[string]cty.Value{"output": s.output, "status": cty.StringVal(string(s.status))})
			}
		}
		if r.phase == 1 {
			for _, s := range r.phases[1] {
				if s.status.Finished() {
					steps[s.def.Name] = cty.ObjectVal(map[string]cty.Value{"output": s.output, "status": cty.StringVal(string(s.status))})
				}
			}
			f := r.failure
			if f == nil {
				f = &ErrorInfo{}
			}
			r.base["error"] = cty.ObjectVal(map[string]cty.Value{"step": cty.StringVal(f.Step), "code": cty.StringVal(f.Code), "message": cty.StringVal(f.Message)})
		}
		r.stepObj = objOrEmpty(steps)
		r.dirty = false
	}
	vars := make(map[string]cty.Value, len(r.base)+2)
	for k, v := range r.base {
		vars[k] = v
	}
	vars["step"] = r.stepObj
	if it != nil && it.each {
		vars["each"] = cty.ObjectVal(map[string]cty.Value{"key": it.key, "value": it.value})
	}
	return &hcl.EvalContext{Variables: vars, Functions: r.e.funcs}
}

// restore rebuilds the state of a resumed (or retried) execution from what
// the store recorded. It returns false when the execution was finished
// because its definition no longer fits.
func (r *run) restore() bool {
	if r.def == nil {
		r.finish(StatusFailed, &ErrorInfo{Code: "definition_changed", Message: fmt.Sprintf("workflow %s no longer exists", r.h.Workflow)})
		return false
	}
	p := r.prior
	if p == nil {
		return true
	}
	r.prior = nil
	byKey := map[string]*stepRun{}
	for _, ph := range r.phases {
		for _, s := range ph {
			byKey[phaseCode(s.phase)+"."+s.def.Name] = s
		}
	}
	for k := range p.steps {
		if byKey[k] == nil {
			r.finish(StatusFailed, &ErrorInfo{Step: k[2:], Code: "definition_changed", Message: fmt.Sprintf("step %s no longer exists in workflow %s", k[2:], r.h.Workflow)})
			return false
		}
	}
	for k := range p.attempts {
		if byKey[k] == nil {
			r.finish(StatusFailed, &ErrorInfo{Step: k[2:], Code: "definition_changed", Message: fmt.Sprintf("step %s no longer exists in workflow %s", k[2:], r.h.Workflow)})
			return false
		}
	}
	for k, s := range byKey {
		if ss := p.steps[k]; ss != nil && ss.Status.Finished() {
			s.status = ss.Status
			s.err = ss.Error
			s.started = ss.StartedAt
			s.reused = ss.ReusedFrom
			s.outGo = ss.Output
			if v, err := toCty(ss.Output); err == nil {
				s.output = v
			}
			continue
		}
		if atts := p.attempts[k]; len(atts) > 0 {
			s.prior = atts
		}
	}
	if r.h.Phase == phaseFailure {
		r.phase = 1
		r.failure = r.h.Error
		ctx, cancel := context.WithCancelCause(r.e.runCtx)
		r.mu.Lock()
		old := r.cancel
		r.ctx, r.cancel = ctx, cancel
		r.mu.Unlock()
		old(nil)
	}
	r.dirty = true
	return true
}

// finish queues the execution's final transition.
func (r *run) finish(st Status, errInfo *ErrorInfo) bool {
	r.h.Status = st
	r.h.EndedAt = r.now()
	if r.h.StartedAt.IsZero() {
		r.h.StartedAt = r.h.EndedAt
	}
	r.h.Error = errInfo
	r.ops = append(r.ops, putHeader(&r.h), store.Delete(activeKey(r.h.ID)))
	r.update("", "", 0, st, errInfo)
	pol := r.e.pol.Load()
	if pol.completionListeners && (st == StatusSucceeded || st == StatusFailed) {
		ev, op, err := r.e.inbox.Prepare(events.Event{Type: "workflow." + string(st), Source: "workflow",
			Data: map[string]any{"workflow": r.h.Workflow, "execution_id": r.h.ID, "status": string(st)}})
		if err == nil {
			r.ops = append(r.ops, op)
			r.after = append(r.after, func() { r.e.inbox.Enqueue(ev) })
		}
	}
	h := r.h
	r.after = append(r.after, func() { r.e.runFinished(r, &h) })
	return true
}

func errText(e *ErrorInfo) string {
	if e == nil {
		return ""
	}
	return strings.TrimSpace(e.Code + ": " + e.Message)
}
