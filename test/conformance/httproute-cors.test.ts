import { conformance } from "./harness/suite.js";

conformance(
  {
    name: "HTTPRouteCORS",
    features: ["SupportHTTPRouteCORS"],
    skip: "the HTTPRoute CORS filter is not among the filters issue 2 asks for (CORS comes with SecurityPolicy later)",
  },
  () => {},
);
