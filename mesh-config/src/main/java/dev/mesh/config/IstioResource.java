package dev.mesh.config;

import io.fabric8.kubernetes.api.model.Namespaced;
import io.fabric8.kubernetes.client.CustomResource;

/**
 * An Istio resource. It keeps the apiVersion it was read with: Istio serves every kind at several
 * versions with one schema, and a document written back must say what the user wrote, where
 * fabric8's CustomResource would always say the class's version.
 */
public abstract class IstioResource<S> extends CustomResource<S, IstioStatus>
    implements Namespaced {
  private String readApiVersion;

  @Override
  public String getApiVersion() {
    return readApiVersion != null ? readApiVersion : super.getApiVersion();
  }

  @Override
  public void setApiVersion(String apiVersion) {
    this.readApiVersion = apiVersion;
  }
}
