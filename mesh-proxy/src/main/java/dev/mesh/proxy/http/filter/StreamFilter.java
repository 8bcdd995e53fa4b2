package dev.mesh.proxy.http.filter;

/** A filter on both paths: one instance sees the request in order and the response in reverse. */
public interface StreamFilter extends StreamDecoderFilter, StreamEncoderFilter {}
