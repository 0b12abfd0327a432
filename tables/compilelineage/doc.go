// Package compilelineage builds compile lineages from osquery telemetry.
//
// It has two halves, kept in separate files:
//
//   - the pure core (model.go, classify.go, cmdline.go, correlate.go): Correlate takes
//     Events, including the bytes of any response file collection read, and returns
//     Lineages; it does no I/O, reads no clock and keeps no state (core_test.go checks);
//   - the osquery-facing edge (sources.go, collect.go, sql.go): Discover asks osquery what
//     telemetry it has, Choose picks the sources, Collect runs the SQL and reads the response
//     files through the ReadFunc it is given.
//
// Names shared with the correlator, the packs and the VM checks (columns, stages, classes,
// reason codes, process-name and folder lists) live in tables/vocab.
package compilelineage
