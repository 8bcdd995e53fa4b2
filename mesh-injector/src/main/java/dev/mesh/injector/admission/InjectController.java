package dev.mesh.injector.admission;

import org.springframework.http.MediaType;
import org.springframework.http.ResponseEntity;
import org.springframework.web.bind.annotation.PostMapping;
import org.springframework.web.bind.annotation.RequestBody;
import org.springframework.web.bind.annotation.RestController;

/** POST /inject: the webhook's one endpoint. */
@RestController
public class InjectController {
  private final Admission admission;

  public InjectController(Admission admission) {
    this.admission = admission;
  }

  @PostMapping(path = "/inject")
  public ResponseEntity<String> inject(@RequestBody(required = false) String body) {
    Admission.Answer a = admission.review(body == null ? "" : body);
    return ResponseEntity.status(a.status())
        .contentType(a.status() == 200 ? MediaType.APPLICATION_JSON : MediaType.TEXT_PLAIN)
        .body(a.body());
  }
}
