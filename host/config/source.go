package config

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/hcl/v2"
)

// Source is the live policy set of one directory. Reload builds and
// validates the whole new set and swaps it in atomically only when it is
// valid and its Version differs; an invalid set keeps the current one.
// Reloads are serialised, so a file watch, SIGHUP and an API call may all
// trigger them. Current is safe for concurrent use and never blocks.
type Source struct {
	dir  string
	opts LoadOptions
	mu   sync.Mutex // serialises reloads
	cur  atomic.Pointer[Policy]
}

// NewSource loads dir. With errors in the set it returns a nil Source and
// the diagnostics.
func NewSource(dir string, opts LoadOptions) (*Source, hcl.Diagnostics) {
	p, diags := Load(dir, opts)
	if diags.HasErrors() {
		return nil, diags
	}
	s := &Source{dir: dir, opts: opts}
	s.cur.Store(p)
	return s, diags
}

// Dir returns the watched directory.
func (s *Source) Dir() string { return s.dir }

// Current returns the policy set in force.
func (s *Source) Current() *Policy { return s.cur.Load() }

// Reload loads the directory again. It returns the policy in force after
// the call, whether it changed, and the diagnostics of the new set (with
// errors, the previous policy stays in force and changed is false).
func (s *Source) Reload() (*Policy, bool, hcl.Diagnostics) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, diags := Load(s.dir, s.opts)
	old := s.cur.Load()
	if diags.HasErrors() {
		return old, false, diags
	}
	if old != nil && old.Version == p.Version {
		return old, false, diags
	}
	s.cur.Store(p)
	return p, true, diags
}

// Watch reloads on every settled change of the directory (see Watch) and
// reports each reload to onReload until ctx ends.
func (s *Source) Watch(ctx context.Context, debounce time.Duration, onReload func(p *Policy, changed bool, diags hcl.Diagnostics)) error {
	return Watch(ctx, s.dir, debounce, func() {
		p, changed, diags := s.Reload()
		if onReload != nil {
			onReload(p, changed, diags)
		}
	})
}
