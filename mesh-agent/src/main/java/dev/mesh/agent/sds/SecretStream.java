package dev.mesh.agent.sds;

/** One SDS stream's half that the service drives: its requests, the pushes, its end. */
interface SecretStream {
  /** A request from the client (DiscoveryRequest or DeltaDiscoveryRequest). */
  void request(Object request);

  /** The secrets changed: send what changed of what this stream asked for. */
  void push(SecretSnapshot now);

  /** The client went away. */
  void closed(String why);

  /** Ends the server's side after the client closed its own. */
  void complete();
}
