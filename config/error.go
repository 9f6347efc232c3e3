package config

import (
	"reflect"
	"sort"
	"strings"
)

// Problem is one bad setting. Var is the environment variable it is about and
// Msg a sentence that names it; Msg never holds a secret value.
type Problem struct {
	Var string
	Msg string
}

// Error reports every bad setting at once, so an operator fixes the
// environment in one round instead of one variable per restart.
type Error struct {
	// Problems are in the order of the variables in SPEC §5's table.
	Problems []Problem
}

// Error renders every problem in one line.
func (e *Error) Error() string {
	msgs := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		msgs[i] = p.Msg
	}
	return "invalid configuration: " + strings.Join(msgs, "; ")
}

// problems collects what is wrong while the environment is parsed.
type problems []Problem

func (p *problems) add(name, msg string) {
	*p = append(*p, Problem{Var: name, Msg: msg})
}

// err returns nil when nothing is wrong, or an *Error whose problems are in
// table order: parse checks some variables out of order (the sandbox switch
// decides whether the upstream ones matter), but the message should read
// like the table.
func (p problems) err() error {
	if len(p) == 0 {
		return nil
	}
	rank := map[string]int{}
	for i, name := range varNames() {
		rank[name] = i
	}
	sorted := append([]Problem(nil), p...)
	sort.SliceStable(sorted, func(i, j int) bool { return rank[sorted[i].Var] < rank[sorted[j].Var] })
	return &Error{Problems: sorted}
}

// varNames lists every variable releasebot reads, in table order.
func varNames() []string {
	t := reflect.TypeFor[env]()
	names := make([]string, t.NumField())
	for i := range names {
		names[i] = t.Field(i).Tag.Get("envconfig")
	}
	return names
}
