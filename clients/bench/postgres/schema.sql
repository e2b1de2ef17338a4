-- What a comityd transition writes, in PostgreSQL: the request record, its audit entry chained
-- by SHA-256 to the previous one, a Merkle leaf, a feed event, and the party rows that list it.
-- Listings by state and type are B-tree indexes PostgreSQL keeps itself. One plpgsql call per
-- transition, one commit each (pgbench's autocommit), durable settings (see run.sh).

CREATE TABLE requests (
  id           bigserial PRIMARY KEY,
  requesting   text NOT NULL,
  requested    text NOT NULL,
  type         text NOT NULL,
  priority     text NOT NULL,
  instrument   text NOT NULL,
  state        text NOT NULL,
  version      integer NOT NULL,
  content      jsonb NOT NULL,
  audit_head   bytea NOT NULL,
  audit_size   integer NOT NULL,
  update_time  timestamptz NOT NULL
);
CREATE INDEX requests_requesting_state ON requests (requesting, state, id);
CREATE INDEX requests_requested_state ON requests (requested, state, id);
CREATE INDEX requests_requesting_type ON requests (requesting, type, id);
CREATE INDEX requests_requested_type ON requests (requested, type, id);

CREATE TABLE audit (
  request_id     bigint NOT NULL REFERENCES requests (id),
  sequence       integer NOT NULL,
  previous_hash  bytea NOT NULL,
  entry          bytea NOT NULL,
  hash           bytea NOT NULL,
  PRIMARY KEY (request_id, sequence)
);

CREATE TABLE tlog (leaf bigserial PRIMARY KEY, hash bytea NOT NULL);

CREATE TABLE events (
  cursor      bigserial PRIMARY KEY,
  request_id  bigint NOT NULL,
  sequence    integer NOT NULL,
  leaf        bigint NOT NULL
);

CREATE TABLE party (
  authority   text NOT NULL,
  request_id  bigint NOT NULL,
  side        char(1) NOT NULL,
  PRIMARY KEY (authority, request_id)
);

-- Appends the audit entry for a change of request `r` from `from_state` to `to_state`: the
-- entry's bytes, chained to the previous head, its Merkle leaf and its feed event. Returns the
-- new head.
CREATE FUNCTION append_entry(r_id bigint, seq integer, head bytea, action text, actor text,
                             from_state text, to_state text, details text) RETURNS bytea AS $$
DECLARE
  entry bytea;
  h bytea;
  l bigint;
BEGIN
  entry := convert_to(json_build_object(
      'request', r_id, 'sequence', seq, 'action', action, 'actor', actor,
      'state_before', from_state, 'state_after', to_state, 'time', clock_timestamp(),
      'details', details)::text, 'UTF8');
  h := sha256(head || entry);
  INSERT INTO audit VALUES (r_id, seq, head, entry, h);
  INSERT INTO tlog (hash) VALUES (sha256('\x00'::bytea || entry)) RETURNING leaf INTO l;
  INSERT INTO events (request_id, sequence, leaf) VALUES (r_id, seq, l);
  RETURN h;
END $$ LANGUAGE plpgsql;

CREATE FUNCTION create_request(requesting text, requested text, facts text) RETURNS bigint AS $$
DECLARE
  r_id bigint;
  h bytea;
BEGIN
  INSERT INTO requests (requesting, requested, type, priority, instrument, state, version,
                        content, audit_head, audit_size, update_time)
  VALUES (requesting, requested, 'GENERAL_ASSISTANCE', 'ROUTINE', 'uncc', 'DRAFT', 1,
          json_build_object('language', 'en', 'summary_of_facts', facts,
                            'offences', json_build_array('Illegal access'),
                            'purpose', 'Measure')::jsonb,
          '\x'::bytea, 0, now())
  RETURNING id INTO r_id;
  h := append_entry(r_id, 1, decode(repeat('00', 32), 'hex'), 'CREATE', requesting, '', 'DRAFT',
                    facts);
  UPDATE requests SET audit_head = h, audit_size = 1 WHERE id = r_id;
  INSERT INTO party VALUES (requesting, r_id, 'q');
  RETURN r_id;
END $$ LANGUAGE plpgsql;

-- One transition: the record locked, the state checked, the entry appended, the record updated.
CREATE FUNCTION transition(r_id bigint, action text, from_state text, to_state text,
                           actor text) RETURNS integer AS $$
DECLARE
  r requests%ROWTYPE;
  h bytea;
BEGIN
  SELECT * INTO r FROM requests WHERE id = r_id FOR UPDATE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'requests/% not found', r_id USING ERRCODE = 'no_data_found';
  END IF;
  IF r.state <> from_state THEN
    RAISE EXCEPTION '% is not allowed in state %', action, r.state
        USING ERRCODE = 'check_violation';
  END IF;
  h := append_entry(r_id, r.audit_size + 1, r.audit_head, action, actor, r.state, to_state, '');
  UPDATE requests SET state = to_state, version = r.version + 1, audit_head = h,
                      audit_size = r.audit_size + 1, update_time = now()
  WHERE id = r_id;
  IF action = 'SUBMIT' THEN
    INSERT INTO party VALUES (r.requested, r_id, 'r');
  END IF;
  RETURN r.version + 1;
END $$ LANGUAGE plpgsql;
