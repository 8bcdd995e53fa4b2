/**
 * The older API versions Istio still serves for each kind, with the same schema as v1. They exist
 * so that the generated CRDs serve them too and users' existing YAML applies unchanged; the mesh
 * reads every version into the v1 types.
 */
package dev.mesh.config.served;
