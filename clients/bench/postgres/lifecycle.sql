-- pgbench: comity-bench's lifecycle, one transition per statement, each its own transaction.
SELECT create_request('authorities/FR-CA', 'authorities/DE-BFJ', 'Benchmark facts') AS id \gset
SELECT transition(:id, 'SUBMIT', 'DRAFT', 'SUBMITTED', 'spiffe://comity.dev/FR-CA/alice');
SELECT transition(:id, 'ACKNOWLEDGE', 'SUBMITTED', 'RECEIVED', 'spiffe://comity.dev/DE-BFJ/greta');
SELECT transition(:id, 'ACCEPT', 'RECEIVED', 'IN_EXECUTION', 'spiffe://comity.dev/DE-BFJ/greta');
SELECT transition(:id, 'DELIVER', 'IN_EXECUTION', 'EXECUTED', 'spiffe://comity.dev/DE-BFJ/greta');
SELECT transition(:id, 'CONFIRM_RECEIPT', 'EXECUTED', 'CLOSED', 'spiffe://comity.dev/FR-CA/alice');
