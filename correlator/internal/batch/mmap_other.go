//go:build !unix

package batch

import "os"

// mapFile does not map on this platform: documents are read with ReadAt.
func mapFile(*os.File, int64) ([]byte, error) { return nil, nil }

func unmapFile([]byte) error { return nil }
