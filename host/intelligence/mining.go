package intelligence

import (
	"slices"
	"sort"
	"strings"
)

// Itemset is a set of items that occur together, sorted and without
// duplicates.
type Itemset []string

// Sequence is an ordered list of itemsets.
type Sequence []Itemset

// String renders a sequence as <a(bc)d>.
func (s Sequence) String() string {
	var b strings.Builder
	b.WriteByte('<')
	for _, is := range s {
		if len(is) == 1 {
			b.WriteString(is[0])
			continue
		}
		b.WriteByte('(')
		b.WriteString(strings.Join(is, ""))
		b.WriteByte(')')
	}
	b.WriteByte('>')
	return b.String()
}

// Len is the number of items in the sequence.
func (s Sequence) Len() int {
	n := 0
	for _, is := range s {
		n += len(is)
	}
	return n
}

// SeqPattern is a frequent sequential pattern and its support: the number
// of database sequences that contain it.
type SeqPattern struct {
	Seq     Sequence
	Support int
}

// subset reports whether sorted a is a subset of sorted b.
func subset(a, b Itemset) bool {
	j := 0
	for _, x := range a {
		for j < len(b) && b[j] < x {
			j++
		}
		if j == len(b) || b[j] != x {
			return false
		}
		j++
	}
	return true
}

// firstContaining returns the first index > after of an itemset of s that
// contains want, or -1.
func firstContaining(s Sequence, after int, want Itemset) int {
	for i := after + 1; i < len(s); i++ {
		if subset(want, s[i]) {
			return i
		}
	}
	return -1
}

// Contains reports whether pattern p is a subsequence of s: its itemsets
// are subsets of itemsets of s, in order.
func Contains(s, p Sequence) bool {
	at := -1
	for _, is := range p {
		at = firstContaining(s, at, is)
		if at < 0 {
			return false
		}
	}
	return true
}

// projection is where a prefix occurs in one sequence: q is the earliest
// end of the prefix without its last itemset (-1 when that is empty), e the
// earliest end of the whole prefix.
type projection struct{ seq, q, e int }

// PrefixSpan mines every sequential pattern with support >= minSup and at
// most maxLen items (0 = no limit) by prefix projection (Pei et al., 2001).
// The result is exact and sorted by String.
func PrefixSpan(db []Sequence, minSup, maxLen int) []SeqPattern {
	if minSup < 1 {
		minSup = 1
	}
	var out []SeqPattern
	var grow func(prefix Sequence, proj []projection)
	grow = func(prefix Sequence, proj []projection) {
		if maxLen > 0 && prefix.Len() >= maxLen {
			return
		}
		sCount := map[string]int{}
		iCount := map[string]int{}
		var last Itemset
		if len(prefix) > 0 {
			last = prefix[len(prefix)-1]
		}
		for _, p := range proj {
			s := db[p.seq]
			seenS := map[string]bool{}
			for i := p.e + 1; i < len(s); i++ {
				for _, x := range s[i] {
					if !seenS[x] {
						seenS[x] = true
						sCount[x]++
					}
				}
			}
			if last == nil {
				continue
			}
			seenI := map[string]bool{}
			for i := p.q + 1; i < len(s); i++ {
				if !subset(last, s[i]) {
					continue
				}
				for _, x := range s[i] {
					if x > last[len(last)-1] && !seenI[x] {
						seenI[x] = true
						iCount[x]++
					}
				}
			}
		}
		for _, x := range sortedKeys(iCount) {
			if iCount[x] < minSup {
				continue
			}
			want := append(append(Itemset(nil), last...), x)
			np := slices.Clone(prefix)
			np[len(np)-1] = want
			var next []projection
			for _, p := range proj {
				if e := firstContaining(db[p.seq], p.q, want); e >= 0 {
					next = append(next, projection{seq: p.seq, q: p.q, e: e})
				}
			}
			out = append(out, SeqPattern{Seq: np, Support: len(next)})
			grow(np, next)
		}
		for _, x := range sortedKeys(sCount) {
			if sCount[x] < minSup {
				continue
			}
			np := append(slices.Clone(prefix), Itemset{x})
			var next []projection
			for _, p := range proj {
				if e := firstContaining(db[p.seq], p.e, Itemset{x}); e >= 0 {
					next = append(next, projection{seq: p.seq, q: p.e, e: e})
				}
			}
			out = append(out, SeqPattern{Seq: np, Support: len(next)})
			grow(np, next)
		}
	}
	root := make([]projection, len(db))
	for i := range db {
		root[i] = projection{seq: i, q: -1, e: -1}
	}
	grow(nil, root)
	sort.Slice(out, func(i, j int) bool { return out[i].Seq.String() < out[j].Seq.String() })
	return out
}

func sortedKeys(m map[string]int) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// ClosedPatterns keeps the patterns that no other pattern of ps contains
// with the same support.
func ClosedPatterns(ps []SeqPattern) []SeqPattern {
	return filterPatterns(ps, func(p, q SeqPattern) bool { return q.Support == p.Support })
}

// MaximalPatterns keeps the patterns that no other pattern of ps contains.
func MaximalPatterns(ps []SeqPattern) []SeqPattern {
	return filterPatterns(ps, func(p, q SeqPattern) bool { return true })
}

// filterPatterns drops p when a strictly longer q contains it and drop(p, q).
func filterPatterns(ps []SeqPattern, drop func(p, q SeqPattern) bool) []SeqPattern {
	var out []SeqPattern
	for _, p := range ps {
		keep := true
		for _, q := range ps {
			if q.Seq.Len() > p.Seq.Len() && drop(p, q) && Contains(q.Seq, p.Seq) {
				keep = false
				break
			}
		}
		if keep {
			out = append(out, p)
		}
	}
	return out
}
