package cluster

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/heady-dev/heady/host/store"
)

// A Raft log entry carries one group-committed batch: the requests that the
// store's writer collected, each a list of typed operations that must land
// atomically. The encoding is a small binary format (varints and raw bytes)
// so that the log costs little more than the data it carries:
//
//	entry   = version:byte nreqs:uvarint { nops:uvarint { op } }
//	op      = kind:byte keylen:uvarint key vallen:uvarint value ttl:varint(ns)
const entryVersion byte = 1

func encodeBatch(reqs [][]store.Op) []byte {
	n := 1 + binary.MaxVarintLen64
	for _, ops := range reqs {
		n += binary.MaxVarintLen64
		for _, op := range ops {
			n += 1 + 3*binary.MaxVarintLen64 + len(op.Key) + len(op.Value)
		}
	}
	b := make([]byte, 0, n)
	b = append(b, entryVersion)
	b = binary.AppendUvarint(b, uint64(len(reqs)))
	for _, ops := range reqs {
		b = binary.AppendUvarint(b, uint64(len(ops)))
		for _, op := range ops {
			b = append(b, byte(op.Kind))
			b = binary.AppendUvarint(b, uint64(len(op.Key)))
			b = append(b, op.Key...)
			b = binary.AppendUvarint(b, uint64(len(op.Value)))
			b = append(b, op.Value...)
			b = binary.AppendVarint(b, int64(op.TTL))
		}
	}
	return b
}

var errShort = errors.New("truncated entry")

type reader struct {
	b   []byte
	err error
}

func (r *reader) uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.err = errShort
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) varint() int64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.err = errShort
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) bytes(n uint64) []byte {
	if r.err != nil {
		return nil
	}
	if uint64(len(r.b)) < n {
		r.err = errShort
		return nil
	}
	out := r.b[:n:n]
	r.b = r.b[n:]
	return out
}

func (r *reader) byte1() byte {
	bs := r.bytes(1)
	if len(bs) == 0 {
		return 0
	}
	return bs[0]
}

func decodeBatch(b []byte) ([][]store.Op, error) {
	if len(b) == 0 || b[0] != entryVersion {
		return nil, fmt.Errorf("cluster: decode entry: unknown version")
	}
	r := &reader{b: b[1:]}
	nreq := r.uvarint()
	if nreq > uint64(len(b)) {
		return nil, fmt.Errorf("cluster: decode entry: %w", errShort)
	}
	reqs := make([][]store.Op, 0, nreq)
	for i := uint64(0); i < nreq && r.err == nil; i++ {
		nops := r.uvarint()
		if nops > uint64(len(b)) {
			return nil, fmt.Errorf("cluster: decode entry: %w", errShort)
		}
		ops := make([]store.Op, 0, nops)
		for j := uint64(0); j < nops && r.err == nil; j++ {
			var op store.Op
			op.Kind = store.OpKind(r.byte1())
			op.Key = r.bytes(r.uvarint())
			op.Value = r.bytes(r.uvarint())
			op.TTL = time.Duration(r.varint())
			ops = append(ops, op)
		}
		reqs = append(reqs, ops)
	}
	if r.err != nil {
		return nil, fmt.Errorf("cluster: decode entry: %w", r.err)
	}
	return reqs, nil
}
