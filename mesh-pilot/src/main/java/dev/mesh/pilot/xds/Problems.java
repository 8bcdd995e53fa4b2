package dev.mesh.pilot.xds;

import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.logging.Logger;

/**
 * Resources that cannot be translated: each is logged once (naming namespace/name and the field)
 * and counted, and left out of the config; everything else is still pushed.
 */
public final class Problems {
  private static final Logger LOG = Logger.getLogger(Problems.class.getName());
  private final Set<String> seen = ConcurrentHashMap.newKeySet();
  private final AtomicLong count = new AtomicLong();

  public void report(String line) {
    if (seen.add(line)) {
      count.incrementAndGet();
      LOG.warning("invalid config skipped: " + line);
    }
  }

  /** Something pilot translates only in part (a field it cannot honour): said once. */
  public void warn(String line) {
    if (seen.add("warn:" + line)) {
      LOG.warning(line);
    }
  }

  public long count() {
    return count.get();
  }
}
