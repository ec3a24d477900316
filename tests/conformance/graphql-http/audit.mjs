// Runs the graphql-http server audit against the URL given as the first
// argument and prints one JSON object: the number of passed checks and,
// for each warning and error, its id, name, reason and the response's
// status and body start. Run by tests/tests/e2e/graphql_over_http_audit.rs.
import { auditServer } from 'graphql-http';

const url = process.argv[2];
const results = await auditServer({ url });
const report = { ok: 0, warn: [], error: [] };
for (const result of results) {
  if (result.status === 'ok') {
    report.ok += 1;
    continue;
  }
  let body = '';
  try {
    body = result.response ? (await result.response.text()).slice(0, 300) : '';
  } catch {
    body = '';
  }
  report[result.status].push({
    id: result.id,
    name: result.name,
    reason: result.reason,
    status: result.response?.status,
    body,
  });
}
console.log(JSON.stringify(report));
