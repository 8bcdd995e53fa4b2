package dev.mesh.api;

final class Ports {
  private Ports() {}

  static int check(int port, String what) {
    if (port < 1 || port > 65535) {
      throw new IllegalArgumentException(what + " must be between 1 and 65535, got " + port);
    }
    return port;
  }

  static int parse(String text, String what) {
    try {
      return check(Integer.parseInt(text), what);
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException(what + " must be a number, got '" + text + "'");
    }
  }
}
