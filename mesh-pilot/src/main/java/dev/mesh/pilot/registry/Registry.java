package dev.mesh.pilot.registry;

/** A source of the mesh's state: the Kubernetes API, or a directory of YAML. */
public interface Registry extends AutoCloseable {
  /** Starts watching; {@code onChange} runs after every change, on the registry's own thread. */
  void start(Runnable onChange);

  /** The state now. */
  MeshSnapshot current();

  /** Resources refused so far as invalid (each counted once), for pilot_invalid_config. */
  long invalidResources();

  @Override
  void close();
}
