package config

import (
	"context"
	"fmt"
	"time"

	"github.com/fsnotify/fsnotify"
)

// Watch calls onChange after changes to the files of dir have settled: any
// burst of writes, creates, removes and renames within debounce yields one
// call. Watching the directory (not the files) keeps working with editors
// and tools that replace files by rename. onChange runs on the watcher's
// goroutine; a slow onChange delays the next call, never overlaps it. Watch
// blocks until ctx ends and returns nil then, or an error if the directory
// cannot be watched.
func Watch(ctx context.Context, dir string, debounce time.Duration, onChange func()) error {
	return watch(ctx, dir, debounce, onChange, nil)
}

// watch is Watch with a hook called once the directory is being watched.
func watch(ctx context.Context, dir string, debounce time.Duration, onChange, ready func()) error {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return fmt.Errorf("config: watch %s: %w", dir, err)
	}
	defer w.Close()
	if err := w.Add(dir); err != nil {
		return fmt.Errorf("config: watch %s: %w", dir, err)
	}
	if ready != nil {
		ready()
	}
	if debounce <= 0 {
		debounce = 200 * time.Millisecond
	}
	timer := time.NewTimer(debounce)
	if !timer.Stop() {
		<-timer.C
	}
	pending := false
	for {
		select {
		case <-ctx.Done():
			timer.Stop()
			return nil
		case ev, ok := <-w.Events:
			if !ok {
				return nil
			}
			if ev.Op == fsnotify.Chmod {
				continue
			}
			if pending && !timer.Stop() {
				select {
				case <-timer.C:
				default:
				}
			}
			timer.Reset(debounce)
			pending = true
		case _, ok := <-w.Errors:
			if !ok {
				return nil
			}
			// An overflow loses events: reload to be safe.
			timer.Reset(debounce)
			pending = true
		case <-timer.C:
			pending = false
			if ctx.Err() == nil {
				onChange()
			}
		}
	}
}
