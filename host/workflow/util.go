package workflow

import "sort"

func sortInts(s []int)       { sort.Ints(s) }
func sortStrings(s []string) { sort.Strings(s) }
