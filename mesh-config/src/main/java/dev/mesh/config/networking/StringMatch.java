package dev.mesh.config.networking;

import com.fasterxml.jackson.annotation.JsonInclude;

/** Istio's StringMatch: exactly one of exact, prefix or regex (RE2 syntax). */
@JsonInclude(JsonInclude.Include.NON_NULL)
public class StringMatch {
  public String exact;
  public String prefix;
  public String regex;

  public static StringMatch exact(String value) {
    StringMatch m = new StringMatch();
    m.exact = value;
    return m;
  }

  public static StringMatch prefix(String value) {
    StringMatch m = new StringMatch();
    m.prefix = value;
    return m;
  }
}
