package dev.mesh.proxy.http.codec;

/** The connection manager, as a codec sees it: a new stream per request. */
public interface ServerConnectionCallbacks {
  StreamDecoder newStream(ServerStream stream);
}
