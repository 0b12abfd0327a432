// Package layout holds the test that keeps the module's import rules (README, Development:
// Layout). It has no code of its own.
package layout
