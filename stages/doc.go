// Package stages holds one file per stage kind. Each file reads top to bottom as its recipe: options ->
// validation -> loading inputs -> building the graph -> the loop -> saving -> a self-check of the output.
// Kinds register themselves with the pipeline package from init, so importing this package for its side
// effect makes them available to configs.
package stages
