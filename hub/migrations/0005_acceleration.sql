-- How a dataset is accelerated (JSON, e.g. {"mode":"memory","refresh":"10m"}); NULL when
-- it is read live from its source.

ALTER TABLE datasets ADD COLUMN acceleration TEXT;
