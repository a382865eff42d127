module mediaanalysis/benchmarks/loadgen

// The standard library only, so that the bench builds it offline.
go 1.24
