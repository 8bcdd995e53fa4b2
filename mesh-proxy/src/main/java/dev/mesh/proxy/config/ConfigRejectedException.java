package dev.mesh.proxy.config;

/**
 * A configuration the proxy will not run: unreadable, or setting a field the proxy does not
 * implement. The message names the field by its path in the config, so that the user can find it;
 * over xDS it becomes the NACK's error_detail.
 */
public class ConfigRejectedException extends RuntimeException {
  public ConfigRejectedException(String message) {
    super(message);
  }

  public ConfigRejectedException(String message, Throwable cause) {
    super(message, cause);
  }
}
