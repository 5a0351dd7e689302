-- The tables of the conformance suite, created in the test's own PostgreSQL schema (the
-- search path names it). Rows are generated deterministically, then tricky rows added.

CREATE TABLE people (
    id bigint NOT NULL, name text, district text, birth date, income numeric(12,2),
    household int, score double precision, active boolean);
INSERT INTO people
SELECT g,
       CASE WHEN g % 37 = 0 THEN NULL WHEN g % 10 = 3 THEN 'resident ' || g ELSE 'Resident ' || g END,
       (ARRAY['North', 'South', 'East', 'West', 'Central', '河西区', NULL])[g % 7 + 1],
       CASE WHEN g % 23 = 0 THEN NULL ELSE date '1940-01-01' + (g * 97) % 25000 END,
       CASE WHEN g % 17 = 0 THEN NULL
            WHEN g % 29 = 0 THEN -((g * 7919) % 200000) / 100.0
            ELSE ((g * 7919) % 200000) / 3.0 END,
       CASE WHEN g % 19 = 0 THEN NULL ELSE g % 7 END,
       CASE WHEN g % 11 = 0 THEN NULL ELSE (g % 13) * 0.5 - 2 END,
       CASE WHEN g % 31 = 0 THEN NULL ELSE g % 3 <> 0 END
FROM generate_series(1, 300) AS g;
INSERT INTO people VALUES
    (1001, '', '', '2000-02-29', 0.00, 0, '-0', true),
    (1002, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
    (1003, '张伟', '海淀区', '1900-01-01', 9999999999.99, 2147483647, 1e300, false),
    (1004, 'José Ñúñez', 'Central', '1970-01-01', -9999999999.99, -2147483648, -1e-300, true),
    (1005, 'Zoë 😀', 'North', '1969-12-31', 0.01, 1, 0.1, true),
    (1006, 'O''Brien', 'South', '2000-01-01', -0.01, -1, -2.5, false),
    (1007, 'back\slash', 'East', '1999-12-31', 12345.67, 3, 2.5, NULL),
    (1008, '100% pure_', 'West', '2024-02-29', 100.50, 4, 0.5, true),
    (1009, 'trailing  ', 'West ', '1904-02-29', 0.50, 5, 1.5, false),
    (1010, '  leading', ' North', '2100-12-31', -0.50, 6, -1.5, true),
    (1011, 'straße ǅ', 'Central', '1901-12-13', 1.00, 2, 3.0, true),
    (1012, 'ÅNGSTRÖM', NULL, '1960-06-15', 2.50, 3, 0.30000000000000004, false),
    (1013, 'a''b"c', 'East', '1600-03-01', -2.50, 1, NULL, true),
    (1014, 'x_y%z', 'South', '2038-01-19', 3.50, NULL, 4.5, NULL),
    (1015, '北京市朝阳区', '河西区', '1988-08-08', 88888.88, 8, 8.0, true);

CREATE TABLE firms (
    id bigint NOT NULL, name text, registered date, capital numeric(18,2), sector text,
    employees int, owner_id bigint);
INSERT INTO firms
SELECT g,
       'Firm ' || g,
       CASE WHEN g % 13 = 0 THEN NULL ELSE date '1990-01-01' + (g * 131) % 12000 END,
       CASE WHEN g % 11 = 0 THEN NULL ELSE (g * 104729 % 1000000) * 10.25 END,
       (ARRAY['retail', 'manufacturing', 'services', 'farming', NULL])[g % 5 + 1],
       CASE WHEN g % 9 = 0 THEN NULL ELSE g * 37 % 500 END,
       CASE WHEN g % 8 = 0 THEN NULL ELSE (g * 7) % 330 END
FROM generate_series(1, 120) AS g;
INSERT INTO firms VALUES
    (501, '建设银行', '2000-02-29', 9999999999999999.99, 'finance', 100000, 1003),
    (502, NULL, NULL, NULL, NULL, NULL, NULL),
    (503, 'Ünïcode GmbH', '1970-01-01', -9999999999999999.99, '', 0, 1004),
    (504, 'Zero Ltd', '1969-12-31', 0.00, 'retail', -5, 1002),
    (505, 'Quote''s & Co', '1900-02-28', 0.01, 'services', 1, 9999);

CREATE TABLE links (person_id bigint, firm_id bigint, role text, since date, share numeric(5,2));
INSERT INTO links
SELECT CASE WHEN g % 15 = 0 THEN NULL ELSE (g * 13) % 320 + 1 END,
       CASE WHEN g % 21 = 0 THEN NULL ELSE (g * 5) % 130 + 1 END,
       (ARRAY['owner', 'director', 'employee', NULL])[g % 4 + 1],
       date '2010-01-01' + g * 3,
       CASE WHEN g % 6 = 0 THEN NULL ELSE (g % 100) + 0.25 END
FROM generate_series(1, 400) AS g;
INSERT INTO links VALUES (1003, 501, 'owner', '2000-02-29', 100.00), (NULL, NULL, NULL, NULL, NULL),
    (1002, 502, '', '1970-01-01', 0.00), (1004, 503, 'owner', '1969-12-31', -0.01);

CREATE TABLE numbers (
    id bigint NOT NULL, big bigint, small int, tiny smallint, dec numeric(38,10),
    amount numeric(12,2), f double precision);
INSERT INTO numbers VALUES
    (1, 9223372036854775807, 2147483647, 32767, 9999999999999999999999999999.9999999999,
        9999999999.99, 1.7976931348623157e308),
    (2, -9223372036854775808, -2147483648, -32768, -9999999999999999999999999999.9999999999,
        -9999999999.99, -1.7976931348623157e308),
    (3, 0, 0, 0, 0, 0, 0),
    (4, -7, -7, -7, -7.5, -7.50, -7.5),
    (5, 7, 7, 7, 2.5, 2.50, 2.5),
    (6, NULL, NULL, NULL, NULL, NULL, NULL),
    (7, 9223372036854775806, 1, 1, 0.0000000001, 0.01, 5e-324),
    (8, -1, -1, -1, -0.5, -0.50, -0.5),
    (9, 3, 3, 3, 1.5, 1.50, 0.1),
    (10, 2, 2, 2, 0.5, 0.50, 0.2),
    (11, 1000000000000, 100000, 100, 123456789.0123456789, 1234.56, 1e-10),
    (12, -3, -3, -3, -1.5, -1.50, -0.1),
    (13, 5, 5, 5, 0.125, 0.13, 0.125),
    (14, -5, -5, -5, 1.005, 1.01, 1.005);

CREATE TABLE floats (id bigint NOT NULL, f double precision, label text);
INSERT INTO floats VALUES
    (1, 'NaN', 'nan'), (2, 'Infinity', 'inf'), (3, '-Infinity', '-inf'), (4, 0.0, 'zero'),
    (5, '-0', 'minus zero'), (6, NULL, 'null'), (7, 1.5, 'one and a half'), (8, -1.5, 'minus one and a half'),
    (9, 'NaN', 'nan again'), (10, 1e308, 'huge'), (11, 0.1, 'tenth'), (12, 0.30000000000000004, 'almost 0.3');
