// Package vocab is the one home of the compile_lineage contract: the column names of both
// tables, the stages, connection origins, output sources, parent classes, reason codes with
// their plain words, telemetry gap and link evidence codes, and every process-name and folder
// list the lineage judges by. The table owns it; the correlator, the packs generator and the
// Windows VM checks import it instead of keeping copies.
//
// Each item says where it comes from (a detection rule, the README, an osquery schema). The
// package is a leaf: it imports only the standard library, holds no state, and hands out
// copies of its lists, so an importer cannot change what another one sees.
package vocab
