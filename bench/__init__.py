"""White Panel's performance benchmark (issue 9): `make bench`, docs/benchmarks.md."""
