package pluginhost

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"time"

	"github.com/hashicorp/go-plugin"

	"github.com/heady-dev/heady/sdk"
	"github.com/heady-dev/heady/sdk/client"
)

// errorf builds a host-side classified error about plugin p.
func (p *proc) errorf(code string, retryable bool, format string, args ...any) *sdk.Error {
	return &sdk.Error{Code: code, Retryable: retryable, Message: fmt.Sprintf("plugin %s: ", p.name) + fmt.Sprintf(format, args...)}
}

// ensure returns the running plugin, starting it if it is idle.
func (p *proc) ensure(ctx context.Context) (*liveConn, error) {
	p.mu.Lock()
	for {
		if lc := p.live.Load(); lc != nil {
			p.mu.Unlock()
			return lc, nil
		}
		switch p.state {
		case StateRefused:
			err := p.errorf(sdk.CodeUnavailable, false, "refused: %s", p.lastErr)
			p.mu.Unlock()
			return nil, err
		case StateCrashed:
			err := p.errorf(sdk.CodeUnavailable, true, "not running: restarting after crash (attempt %d)", p.attempt)
			p.mu.Unlock()
			return nil, err
		case StateFailed:
			if time.Since(p.failedAt) < p.m.opts.RestartWindow {
				err := p.errorf(sdk.CodeUnavailable, true, "failed: %s", p.lastErr)
				p.mu.Unlock()
				return nil, err
			}
			p.restartLog = nil
		case StateStopped:
			if !p.enabled {
				err := p.errorf(sdk.CodeUnavailable, false, "disabled by policy")
				p.mu.Unlock()
				return nil, err
			}
		case StateStarting:
			ch := p.starting
			p.mu.Unlock()
			select {
			case <-ch:
			case <-ctx.Done():
				return nil, p.errorf(sdk.CodeTimeout, true, "not running: still starting: %v", ctx.Err())
			}
			p.mu.Lock()
			if p.live.Load() == nil && p.state != StateStarting {
				err := p.errorf(sdk.CodeUnavailable, true, "start failed: %s", p.lastErr)
				p.mu.Unlock()
				return nil, err
			}
			continue
		case StateRunning:
			// live is nil only transiently; fall through to restart below.
		}
		p.m.mu.RLock()
		closed := p.m.closed
		p.m.mu.RUnlock()
		if closed {
			p.mu.Unlock()
			return nil, p.errorf(sdk.CodeUnavailable, false, "not running: the host is shutting down")
		}
		if p.path == "" {
			p.mu.Unlock()
			return nil, p.errorf(sdk.CodeUnavailable, false, "no binary")
		}
		gen := p.beginStart()
		p.mu.Unlock()
		lc, err := p.launch(gen, false)
		p.mu.Lock()
		p.endStart(gen)
		if err != nil {
			p.mu.Unlock()
			return nil, err
		}
		p.mu.Unlock()
		return lc, nil
	}
}

// beginStart marks a start in progress; p.mu must be held.
func (p *proc) beginStart() int {
	p.gen++
	p.state = StateStarting
	p.starting = make(chan struct{})
	p.startingGen = p.gen
	return p.gen
}

// endStart ends the start of generation gen (or any start, for gen 0);
// p.mu must be held.
func (p *proc) endStart(gen int) {
	if p.starting != nil && (gen == 0 || gen == p.startingGen) {
		close(p.starting)
		p.starting = nil
	}
}

// launch starts the plugin process for generation gen and connects to it.
// It updates the state itself, also on failure.
func (p *proc) launch(gen int, restart bool) (*liveConn, error) {
	m := p.m
	p.mu.Lock()
	path, pin, configs := p.path, p.pin, p.configs
	p.mu.Unlock()

	fail := func(state string, err *sdk.Error, kind LifecycleKind, security bool) (*liveConn, error) {
		p.mu.Lock()
		if p.gen == gen {
			p.state, p.lastErr = state, err.Message
			if state == StateFailed {
				p.failedAt = time.Now()
			}
		}
		ev := LifecycleEvent{Kind: kind, Plugin: p.name, Path: path, SHA256: p.sha, Restarts: p.restarts, Error: err.Message, Security: security}
		p.mu.Unlock()
		m.log.Error("plugin start failed", "plugin", p.name, "error", err.Message)
		m.record(ev)
		return nil, err
	}

	sum, err := hashFile(path)
	if err != nil {
		return fail(StateFailed, p.errorf(sdk.CodeUnavailable, true, "read binary: %v", err), EventFailed, false)
	}
	p.mu.Lock()
	p.sha = sum
	p.mu.Unlock()
	if pin != "" && sum != pin {
		msg := fmt.Sprintf("checksum mismatch: the policy pins sha256 %s, the binary %s has %s", pin, path, sum)
		return fail(StateRefused, p.errorf(sdk.CodeUnavailable, false, "refused: %s", msg), EventRefused, true)
	}

	cmd := exec.Command(path)
	cmd.SysProcAttr = procAttr(syscall.SIGTERM)
	cmd.Env = append(os.Environ(), "HEADY_PLUGIN_NAME="+p.name, sdk.HostPIDEnv+"="+strconv.Itoa(os.Getpid()))
	hl := newHCLog(m.log, p.name)
	stdio := &lineWriter{fn: func(line string) { m.log.Info(line, "plugin", p.name) }}
	pc := plugin.NewClient(&plugin.ClientConfig{
		HandshakeConfig:  sdk.Handshake,
		Plugins:          client.PluginSet(),
		Cmd:              cmd,
		AllowedProtocols: []plugin.Protocol{plugin.ProtocolGRPC},
		AutoMTLS:         !m.opts.DisableAutoMTLS,
		Logger:           hl,
		SkipHostEnv:      true, // cmd.Env already holds the host's environment
		StartTimeout:     m.opts.StartTimeout,
		SyncStdout:       stdio,
		SyncStderr:       stdio,
	})
	kill := func() {
		pid := 0
		if rc := pc.ReattachConfig(); rc != nil {
			pid = rc.Pid
		}
		pc.Kill()
		killGroup(pid)
	}
	if _, err := pc.Start(); err != nil {
		kill()
		return fail(StateFailed, p.errorf(sdk.CodeUnavailable, true, "start: %v", err), EventFailed, false)
	}
	pid := 0
	if rc := pc.ReattachConfig(); rc != nil {
		pid = rc.Pid
	}
	ctx, cancel := context.WithTimeout(context.Background(), m.opts.StartTimeout)
	defer cancel()
	conn, err := client.Dispense(pc)
	if err != nil {
		kill()
		return fail(StateFailed, p.errorf(sdk.CodeUnavailable, true, "dispense: %v", err), EventFailed, false)
	}
	man, err := conn.Manifest(ctx)
	if err != nil {
		kill()
		return fail(StateFailed, p.errorf(sdk.CodeUnavailable, true, "manifest: %v", err), EventFailed, false)
	}
	if err := sdk.CheckCompatible(sdk.Version, man.SDKVersion); err != nil {
		kill()
		return fail(StateRefused, p.errorf(sdk.CodeUnavailable, false, "refused: %v", err), EventRefused, false)
	}
	if man.Name != p.name {
		kill()
		return fail(StateFailed, p.errorf(sdk.CodeUnavailable, false, "the binary %s calls itself %q", path, man.Name), EventFailed, false)
	}
	if err := conn.Init(ctx, p.name, &pluginHost{m: m, name: p.name}); err != nil {
		kill()
		return fail(StateFailed, p.errorf(sdk.CodeUnavailable, true, "init: %v", err), EventFailed, false)
	}
	lc := &liveConn{conn: conn, kinds: map[string]sdk.Kind{}, compErr: map[string]string{}}
	for _, c := range man.Components {
		lc.kinds[c.Name] = c.Kind
		cfg := configs[c.Name]
		if cfg == nil {
			var ds sdk.Diagnostics
			cfg, ds = c.Config.ApplyDefaults(nil)
			if ds.HasErrors() {
				lc.compErr[c.Name] = fmt.Sprintf("component %s: not configured: %s", c.Name, ds.Error())
				continue
			}
		}
		if _, err := conn.Configure(ctx, c.Name, cfg); err != nil {
			lc.compErr[c.Name] = err.Error()
			m.log.Error("plugin component configuration failed", "plugin", p.name, "component", c.Name, "error", err)
		}
	}

	p.mu.Lock()
	if p.gen != gen {
		// Stopped or superseded while starting.
		p.mu.Unlock()
		kill()
		return nil, p.errorf(sdk.CodeUnavailable, true, "not running: stopped while starting")
	}
	p.pc, p.pid, p.manifest, p.hasMan = pc, pid, man, true
	p.state, p.lastErr, p.startedAt = StateRunning, "", time.Now().UTC()
	p.live.Store(lc)
	kind := EventStarted
	if restart {
		kind = EventRestarted
	}
	ev := LifecycleEvent{Kind: kind, Plugin: p.name, Version: man.Version, Path: path, SHA256: sum, PID: pid, Restarts: p.restarts}
	p.mu.Unlock()
	m.log.Info("plugin "+string(kind), "plugin", p.name, "version", man.Version, "pid", pid, "restarts", ev.Restarts)
	m.record(ev)
	m.wg.Add(1)
	go p.watch(gen, pc, pid)
	return lc, nil
}

// watch waits for the process of generation gen to exit.
func (p *proc) watch(gen int, pc *plugin.Client, pid int) {
	defer p.m.wg.Done()
	// The exit is learnt at once from a pidfd where the kernel has one; the
	// ticker then only notices a deliberate stop, so an idle host does not
	// wake up 20 times a second per plugin. Without a pidfd it polls.
	exit := exitNotify(pid)
	every := 50 * time.Millisecond
	if exit != nil {
		every = time.Second
	}
	t := time.NewTicker(every)
	defer t.Stop()
watching:
	for {
		select {
		case <-exit:
			break watching
		case <-t.C:
			if pc.Exited() {
				break watching
			}
		}
		p.mu.Lock()
		cur := p.gen
		p.mu.Unlock()
		if cur != gen {
			return // stopped on purpose; stop cleans up
		}
	}
	p.mu.Lock()
	cur := p.gen
	p.mu.Unlock()
	if cur != gen {
		return // it exited because it was stopped; stop cleans up
	}
	// Reap go-plugin's resources and the children the plugin left behind.
	pc.Kill()
	killGroup(pid)
	p.crashed(gen, pid)
}

// crashed handles an unexpected exit of generation gen.
func (p *proc) crashed(gen, pid int) {
	m := p.m
	p.mu.Lock()
	if p.gen != gen || p.state != StateRunning {
		p.mu.Unlock()
		return
	}
	p.live.Store(nil)
	p.pc, p.pid = nil, 0
	ev := LifecycleEvent{Kind: EventCrashed, Plugin: p.name, Version: p.manifest.Version, Path: p.path, SHA256: p.sha, PID: pid, Restarts: p.restarts, Error: "plugin process exited unexpectedly"}
	p.mu.Unlock()
	m.log.Error("plugin crashed", "plugin", p.name, "pid", pid)
	m.record(ev)
	p.scheduleRestart(gen, "plugin process exited unexpectedly")
}

// scheduleRestart schedules a restart with backoff inside the budget, or
// marks the plugin failed.
func (p *proc) scheduleRestart(gen int, reason string) {
	m := p.m
	p.mu.Lock()
	if p.gen != gen {
		p.mu.Unlock()
		return
	}
	now := time.Now()
	kept := p.restartLog[:0]
	for _, t := range p.restartLog {
		if now.Sub(t) < m.opts.RestartWindow {
			kept = append(kept, t)
		}
	}
	p.restartLog = kept
	if len(p.restartLog) >= m.opts.RestartBudget {
		p.state, p.failedAt = StateFailed, now
		p.lastErr = fmt.Sprintf("%s; restart budget exhausted (%d restarts within %s)", reason, len(p.restartLog), m.opts.RestartWindow)
		ev := LifecycleEvent{Kind: EventFailed, Plugin: p.name, Path: p.path, Restarts: p.restarts, Error: p.lastErr}
		p.mu.Unlock()
		m.log.Error("plugin failed", "plugin", p.name, "error", ev.Error)
		m.record(ev)
		return
	}
	backoff := m.opts.RestartBackoff << len(p.restartLog)
	if backoff > m.opts.MaxRestartBackoff || backoff <= 0 {
		backoff = m.opts.MaxRestartBackoff
	}
	p.attempt = len(p.restartLog) + 1
	p.state = StateCrashed
	p.lastErr = fmt.Sprintf("%s; restart %d in %s", reason, p.attempt, backoff)
	p.timer = time.AfterFunc(backoff, func() { p.restart(gen) })
	p.mu.Unlock()
}

// restart starts a crashed plugin again.
func (p *proc) restart(prevGen int) {
	p.m.mu.RLock()
	closed := p.m.closed
	p.m.mu.RUnlock()
	p.mu.Lock()
	if closed || p.gen != prevGen || p.state != StateCrashed {
		p.mu.Unlock()
		return
	}
	p.timer = nil
	p.restarts++
	p.restartLog = append(p.restartLog, time.Now())
	gen := p.beginStart()
	p.mu.Unlock()
	_, err := p.launch(gen, true)
	p.mu.Lock()
	p.endStart(gen)
	retry := err != nil && p.gen == gen && p.state == StateFailed
	if retry {
		p.state = StateCrashed
	}
	p.mu.Unlock()
	if retry {
		p.scheduleRestart(gen, "restart failed: "+sdk.AsError(err).Message)
	}
}

// stop stops the plugin process (gracefully, then its whole process group)
// and leaves the plugin in state (idle, stopped or refused).
func (p *proc) stop(state, reason string) {
	p.mu.Lock()
	p.gen++
	if p.timer != nil {
		p.timer.Stop()
		p.timer = nil
	}
	pc, pid := p.pc, p.pid
	wasRunning := p.state == StateRunning
	p.live.Store(nil)
	p.pc, p.pid = nil, 0
	p.state = state
	if reason != "" {
		p.lastErr = reason
	} else if state == StateIdle {
		p.lastErr = ""
	}
	p.endStart(0)
	ev := LifecycleEvent{Kind: EventStopped, Plugin: p.name, Version: p.manifest.Version, Path: p.path, SHA256: p.sha, PID: pid, Restarts: p.restarts, Error: reason}
	p.mu.Unlock()
	if pc == nil {
		return
	}
	pc.Kill()
	killGroup(pid)
	if wasRunning {
		p.m.log.Info("plugin stopped", "plugin", p.name, "pid", pid, "reason", reason)
		p.m.record(ev)
	}
}

// killGroup kills the process group led by pid (the plugin and any
// children it started). Plugins are started as group leaders.
func killGroup(pid int) {
	if pid <= 1 {
		return
	}
	err := syscall.Kill(-pid, syscall.SIGKILL)
	if err != nil && !errors.Is(err, syscall.ESRCH) {
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
}
