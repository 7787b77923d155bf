package app

import (
	"context"
	"sync"
	"time"

	"github.com/shirou/gopsutil/v3/cpu"
	"github.com/shirou/gopsutil/v3/mem"
)

// sampler keeps the latest host CPU and memory utilisation.
type sampler struct {
	mu       sync.RWMutex
	cpu, mem float64
}

func newSampler() *sampler {
	s := &sampler{}
	s.sample()
	return s
}

func (s *sampler) run(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			s.sample()
		}
	}
}

func (s *sampler) sample() {
	var c, m float64
	if v, err := cpu.Percent(0, false); err == nil && len(v) > 0 {
		c = v[0]
	}
	if vm, err := mem.VirtualMemory(); err == nil {
		m = vm.UsedPercent
	}
	s.mu.Lock()
	s.cpu, s.mem = c, m
	s.mu.Unlock()
}

func (s *sampler) current() (cpu, mem float64) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.cpu, s.mem
}
