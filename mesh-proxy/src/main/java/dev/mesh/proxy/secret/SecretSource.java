package dev.mesh.proxy.secret;

/** Where dynamic secrets come from (an SDS gRPC stream); told when its subscriptions change. */
public interface SecretSource extends AutoCloseable {
  void subscriptionsChanged();

  @Override
  void close();
}
