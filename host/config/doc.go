// Package config is Heady's policy language: it reads a directory of HCL
// policy files, decodes every block into the typed structs of types.go,
// applies defaults, validates values and cross-references, and reports every
// problem as an hcl.Diagnostic with its source range.
//
// A policy set is loaded as a whole: all files are parsed and checked, and
// all diagnostics are collected (a file with a syntax error does not stop the
// others from being checked). A set with errors yields no Policy; callers keep
// the previous one. Policy.Version is a content hash, so reloading an
// unchanged set can be recognised and skipped.
//
// Expressions are HCL's own. Attributes that configure the host are
// evaluated at load time with var.* and the functions of Functions. Runtime
// expressions (a step's input, if and for_each, an event trigger's
// condition) are kept unevaluated and checked only for the names they
// reference; the workflow engine evaluates them with EvalContext.
package config
