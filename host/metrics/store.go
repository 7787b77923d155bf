// Package metrics keeps Heady's time series: host, process, request and
// custom metrics sampled over time and stored in Badger with a retention
// TTL (7 days by default), together with 1-minute and 1-hour roll-ups
// (min, max, sum, count) so that a range query over a week reads a few
// hundred records instead of tens of thousands of samples.
//
// Key layout under store.SpaceMetric:
//
//	metric/!series/ID        series index (name, labels)
//	metric/ID/r/TS           raw sample, TS = unix milliseconds, big-endian
//	metric/ID/m/TS           1-minute roll-up starting at TS
//	metric/ID/h/TS           1-hour roll-up starting at TS
//
// ID is the series name, followed by its labels in braces when it has any
// (`service.web.cpu{replica=2}`). Metric samples are local data: they are
// written in batches through store.Apply with a TTL.
//
// The package also exports Heady's own counters in the Prometheus text
// format (see Registry) and samples the host with gopsutil (see Collector).
package metrics

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/dgraph-io/badger/v4"

	"github.com/heady-dev/heady/host/store"
)

// DefaultRetention is how long samples and roll-ups are kept.
const DefaultRetention = 7 * 24 * time.Hour

// Roll-up resolutions.
const (
	resRaw    = 'r'
	resMinute = 'm'
	resHour   = 'h'
)

const indexPrefix = store.SpaceMetric + "!series/"

// Sample is one measurement of one series.
type Sample struct {
	Series string            `json:"series"`
	Labels map[string]string `json:"labels,omitempty"`
	Time   time.Time         `json:"time"`
	Value  float64           `json:"value"`
}

// Point is one step of a range query: the aggregate of the samples that fell
// into [Time, Time+step).
type Point struct {
	Time  time.Time `json:"time"`
	Value float64   `json:"value"` // average
	Min   float64   `json:"min"`
	Max   float64   `json:"max"`
	Count int64     `json:"count"`
}

// SeriesInfo describes one stored series.
type SeriesInfo struct {
	ID        string            `json:"id"`
	Name      string            `json:"name"`
	Labels    map[string]string `json:"labels,omitempty"`
	LastTime  time.Time         `json:"last_time,omitzero"`
	LastValue float64           `json:"last_value"`
}

// Options configure a Store.
type Options struct {
	// Retention is the TTL of samples and roll-ups (DefaultRetention when
	// zero).
	Retention time.Duration
	// Now is the clock (time.Now when nil).
	Now func() time.Time
}

// Store is the time-series store. It is safe for concurrent use.
type Store struct {
	st   *store.Store
	opts Options

	wmu    sync.Mutex // serialises Record so roll-up read-modify-writes do not interleave
	mu     sync.RWMutex
	series map[string]*seriesState
}

type seriesState struct {
	info    SeriesInfo
	indexed time.Time // when the index record was last written
	minute  bucket
	hour    bucket
}

// bucket is a roll-up: min, max, sum and count of the samples from start.
type bucket struct {
	start int64 // unix ms; 0: none cached
	min   float64
	max   float64
	sum   float64
	count float64
}

func (b *bucket) add(v float64) {
	if b.count == 0 || v < b.min {
		b.min = v
	}
	if b.count == 0 || v > b.max {
		b.max = v
	}
	b.sum += v
	b.count++
}

func (b *bucket) merge(o bucket) {
	if o.count == 0 {
		return
	}
	if b.count == 0 || o.min < b.min {
		b.min = o.min
	}
	if b.count == 0 || o.max > b.max {
		b.max = o.max
	}
	b.sum += o.sum
	b.count += o.count
}

func (b bucket) encode() []byte {
	out := make([]byte, 32)
	binary.BigEndian.PutUint64(out[0:], math.Float64bits(b.min))
	binary.BigEndian.PutUint64(out[8:], math.Float64bits(b.max))
	binary.BigEndian.PutUint64(out[16:], math.Float64bits(b.sum))
	binary.BigEndian.PutUint64(out[24:], math.Float64bits(b.count))
	return out
}

func decodeBucket(v []byte) (bucket, bool) {
	if len(v) != 32 {
		return bucket{}, false
	}
	return bucket{
		min:   math.Float64frombits(binary.BigEndian.Uint64(v[0:])),
		max:   math.Float64frombits(binary.BigEndian.Uint64(v[8:])),
		sum:   math.Float64frombits(binary.BigEndian.Uint64(v[16:])),
		count: math.Float64frombits(binary.BigEndian.Uint64(v[24:])),
	}, true
}

var (
	nameRE  = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_.:-]{0,199}$`)
	labelRE = regexp.MustCompile(`^[A-Za-z0-9_.:-]{1,100}$`)
)

// ValidName reports whether name can be a series name: a letter, then
// letters, digits, '_', '.', ':' or '-'.
func ValidName(name string) bool { return nameRE.MatchString(name) }

// SeriesID renders the identity of a series: its name, then its labels in
// key order in braces.
func SeriesID(name string, labels map[string]string) string {
	if len(labels) == 0 {
		return name
	}
	keys := make([]string, 0, len(labels))
	for k := range labels {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	b.WriteString(name)
	b.WriteByte('{')
	for i, k := range keys {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(k)
		b.WriteByte('=')
		b.WriteString(labels[k])
	}
	b.WriteByte('}')
	return b.String()
}

func validate(s Sample) error {
	if !ValidName(s.Series) {
		return fmt.Errorf("metrics: series %q: want a letter, then letters, digits, '_', '.', ':' or '-' (at most 200)", s.Series)
	}
	for k, v := range s.Labels {
		if !labelRE.MatchString(k) || !labelRE.MatchString(v) {
			return fmt.Errorf("metrics: series %s: label %q=%q: want letters, digits, '_', '.', ':' or '-'", s.Series, k, v)
		}
	}
	if math.IsNaN(s.Value) || math.IsInf(s.Value, 0) {
		return fmt.Errorf("metrics: series %s: value is not a finite number", s.Series)
	}
	return nil
}

// Open loads the series index of st.
func Open(ctx context.Context, st *store.Store, opts Options) (*Store, error) {
	if opts.Retention <= 0 {
		opts.Retention = DefaultRetention
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	s := &Store{st: st, opts: opts, series: map[string]*seriesState{}}
	err := st.Scan(store.ScanOptions{Prefix: indexPrefix}, func(key string, value []byte) (bool, error) {
		var info SeriesInfo
		if err := store.Decode(value, &info); err != nil {
			return true, nil // skip a damaged index record; samples are rewritten with it
		}
		s.series[info.ID] = &seriesState{info: info}
		return ctx.Err() == nil, nil
	})
	if err != nil {
		return nil, fmt.Errorf("metrics: load series index: %w", err)
	}
	// The latest sample of each series, for Latest and List.
	for id, ss := range s.series {
		if t, v, ok := s.lastRaw(id); ok {
			ss.info.LastTime, ss.info.LastValue = t, v
		}
	}
	return s, ctx.Err()
}

func (s *Store) lastRaw(id string) (time.Time, float64, bool) {
	var t time.Time
	var v float64
	found := false
	_ = s.st.Scan(store.ScanOptions{Prefix: resPrefix(id, resRaw), Reverse: true, Limit: 1}, func(key string, value []byte) (bool, error) {
		if len(value) == 8 && len(key) >= 8 {
			t = time.UnixMilli(int64(binary.BigEndian.Uint64([]byte(key[len(key)-8:]))))
			v = math.Float64frombits(binary.BigEndian.Uint64(value))
			found = true
		}
		return false, nil
	})
	return t, v, found
}

func resPrefix(id string, res byte) string {
	return store.SpaceMetric + id + "/" + string(res) + "/"
}

func sampleKey(id string, res byte, ms int64) string {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(ms))
	return resPrefix(id, res) + string(b[:])
}

func floorMs(t time.Time, d time.Duration) int64 {
	ms := t.UnixMilli()
	dm := d.Milliseconds()
	return ms - ((ms%dm)+dm)%dm
}

// Record stores samples in one batch: each raw sample and the 1-minute and
// 1-hour roll-ups it falls into. Samples older than the retention are
// dropped; an invalid sample fails the whole batch before anything is
// written.
func (s *Store) Record(ctx context.Context, samples []Sample) error {
	for _, smp := range samples {
		if err := validate(smp); err != nil {
			return err
		}
	}
	s.wmu.Lock()
	defer s.wmu.Unlock()
	now := s.opts.Now()
	ret := s.opts.Retention
	ops := make([]store.Op, 0, len(samples)*3)
	type upd struct {
		ss     *seriesState
		minute bucket
		hour   bucket
		last   Sample
	}
	pending := map[string]*upd{}
	// Roll-ups touched by this batch, so that several samples of one bucket
	// are written once.
	rolls := map[string]*bucket{}
	rollTTL := map[string]time.Duration{}
	var order []string
	for _, smp := range samples {
		if smp.Time.IsZero() {
			smp.Time = now
		}
		ttl := ret - now.Sub(smp.Time)
		if ttl <= 0 {
			continue
		}
		id := SeriesID(smp.Series, smp.Labels)
		s.mu.Lock()
		ss := s.series[id]
		if ss == nil {
			ss = &seriesState{info: SeriesInfo{ID: id, Name: smp.Series, Labels: maps(smp.Labels)}}
			s.series[id] = ss
		}
		s.mu.Unlock()
		if now.Sub(ss.indexed) > ret/2 {
			ss.indexed = now
			ops = append(ops, store.PutTTL(indexPrefix+id, store.MustEncode(SeriesInfo{ID: id, Name: ss.info.Name, Labels: ss.info.Labels}), ret))
		}
		var vb [8]byte
		binary.BigEndian.PutUint64(vb[:], math.Float64bits(smp.Value))
		ops = append(ops, store.PutTTL(sampleKey(id, resRaw, smp.Time.UnixMilli()), vb[:], ttl))
		for _, r := range []struct {
			res byte
			d   time.Duration
			cur *bucket
		}{{resMinute, time.Minute, &ss.minute}, {resHour, time.Hour, &ss.hour}} {
			start := floorMs(smp.Time, r.d)
			key := sampleKey(id, r.res, start)
			b := rolls[key]
			if b == nil {
				b = &bucket{start: start}
				if r.cur.start == start {
					*b = *r.cur
				} else if v, err := s.st.Get(key); err == nil {
					if old, ok := decodeBucket(v); ok {
						b.merge(old)
					}
				}
				rolls[key] = b
				order = append(order, key)
			}
			b.add(smp.Value)
			if bt := ret - now.Sub(time.UnixMilli(start)); bt > rollTTL[key] {
				rollTTL[key] = bt
			}
			if start >= r.cur.start {
				*r.cur = *b
			}
		}
		u := pending[id]
		if u == nil {
			u = &upd{ss: ss}
			pending[id] = u
		}
		if !smp.Time.Before(u.last.Time) {
			u.last = smp
		}
	}
	for _, key := range order {
		ttl := rollTTL[key]
		if ttl <= 0 {
			ttl = time.Minute
		}
		ops = append(ops, store.PutTTL(key, rolls[key].encode(), ttl))
	}
	if err := s.st.Apply(ctx, ops...); err != nil {
		// Cached roll-ups may now be ahead of the store; drop them so the
		// next sample reads the stored state back.
		s.mu.Lock()
		for _, u := range pending {
			u.ss.minute, u.ss.hour = bucket{}, bucket{}
		}
		s.mu.Unlock()
		return fmt.Errorf("metrics: record: %w", err)
	}
	s.mu.Lock()
	for _, u := range pending {
		if !u.last.Time.Before(u.ss.info.LastTime) {
			u.ss.info.LastTime, u.ss.info.LastValue = u.last.Time, u.last.Value
		}
	}
	s.mu.Unlock()
	return nil
}

func maps(m map[string]string) map[string]string {
	if len(m) == 0 {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// ErrUnknownSeries is returned by Range for a series never recorded.
var ErrUnknownSeries = errors.New("unknown series")

// Range aggregates series (a series id: name plus labels in braces, or a
// bare name) over [from, to) into steps of step, answering from the coarsest
// roll-up that fits the step: 1-hour roll-ups for steps of an hour or more,
// 1-minute roll-ups for steps of a minute or more, raw samples below.
// Steps without samples are omitted. A zero step returns one point for the
// whole range.
func (s *Store) Range(ctx context.Context, series string, from, to time.Time, step time.Duration) ([]Point, error) {
	if !to.After(from) {
		return nil, fmt.Errorf("metrics: range %s: to must be after from", series)
	}
	s.mu.RLock()
	_, known := s.series[series]
	s.mu.RUnlock()
	if !known {
		return nil, fmt.Errorf("metrics: range %s: %w", series, ErrUnknownSeries)
	}
	if step <= 0 {
		step = to.Sub(from)
	}
	res := byte(resRaw)
	switch {
	case step >= time.Hour && step%time.Hour == 0 && from.Equal(from.Truncate(time.Hour)):
		res = resHour
	case step >= time.Minute && step%time.Minute == 0 && from.Equal(from.Truncate(time.Minute)):
		res = resMinute
	}
	fromMs, toMs, stepMs := from.UnixMilli(), to.UnixMilli(), step.Milliseconds()
	n := (toMs - fromMs + stepMs - 1) / stepMs
	aggs := make([]bucket, n)
	prefix := []byte(resPrefix(series, res))
	seek := []byte(sampleKey(series, res, fromMs))
	err := s.st.DB().View(func(txn *badger.Txn) error {
		io := badger.DefaultIteratorOptions
		io.Prefix = prefix
		io.PrefetchSize = 256
		it := txn.NewIterator(io)
		defer it.Close()
		for it.Seek(seek); it.ValidForPrefix(prefix); it.Next() {
			item := it.Item()
			k := item.Key()
			ts := int64(binary.BigEndian.Uint64(k[len(k)-8:]))
			if ts >= toMs {
				break
			}
			i := (ts - fromMs) / stepMs
			err := item.Value(func(v []byte) error {
				if res == resRaw {
					if len(v) == 8 {
						aggs[i].add(math.Float64frombits(binary.BigEndian.Uint64(v)))
					}
					return nil
				}
				if b, ok := decodeBucket(v); ok {
					aggs[i].merge(b)
				}
				return nil
			})
			if err != nil {
				return err
			}
			if ctx.Err() != nil {
				return ctx.Err()
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("metrics: range %s: %w", series, err)
	}
	out := make([]Point, 0, n)
	for i, b := range aggs {
		if b.count == 0 {
			continue
		}
		out = append(out, Point{Time: time.UnixMilli(fromMs + int64(i)*stepMs).UTC(), Value: b.sum / b.count, Min: b.min, Max: b.max, Count: int64(b.count)})
	}
	return out, nil
}

// Average is the mean of series over the last window, and the number of
// samples it saw (0 when there were none).
func (s *Store) Average(ctx context.Context, series string, window time.Duration) (float64, int64, error) {
	now := s.opts.Now()
	pts, err := s.Range(ctx, series, now.Add(-window), now.Add(time.Millisecond), 0)
	if err != nil || len(pts) == 0 {
		return 0, 0, err
	}
	return pts[0].Value, pts[0].Count, nil
}

// Latest returns the most recent sample of a series (by id).
func (s *Store) Latest(series string) (Sample, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	ss := s.series[series]
	if ss == nil || ss.info.LastTime.IsZero() {
		return Sample{}, false
	}
	return Sample{Series: ss.info.Name, Labels: ss.info.Labels, Time: ss.info.LastTime, Value: ss.info.LastValue}, true
}

// List returns every known series, sorted by id.
func (s *Store) List() []SeriesInfo {
	s.mu.RLock()
	out := make([]SeriesInfo, 0, len(s.series))
	for _, ss := range s.series {
		out = append(out, ss.info)
	}
	s.mu.RUnlock()
	slices.SortFunc(out, func(a, b SeriesInfo) int { return strings.Compare(a.ID, b.ID) })
	return out
}
