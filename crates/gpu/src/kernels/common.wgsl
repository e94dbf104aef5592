// Shared by every kernel, after the prelude kernels.rs generates (the `Dims` and `Mat` uniform
// structs, the `dims` binding, `WG` and `TILE`): nothing else yet — each kernel file is written to
// be read on its own.
