-- django-celery-results rows one minute either side of result_expires (Celery's default, 1 day),
-- relative to the database clock, in several states; plus chord counters, which cleanup() does not
-- cover. task_id / group_id name the row; the test lists each row's fate by id. date_done is
-- auto_now (the time of the last save), date_created auto_now_add.
insert into django_celery_results_taskresult
  (id, task_id, status, content_type, content_encoding, result, date_done, traceback, meta, task_args, task_kwargs, task_name, worker, date_created, periodic_task_name, date_started) values
  (1, 'done 1 day 1 minute ago', 'SUCCESS', 'application/json', 'utf-8', '42', now() - interval '1 day 1 minute', null, '{"children": []}', '[1]', '{}', 'proj.add', 'celery@w1', now() - interval '1 day 2 minutes', null, now() - interval '1 day 2 minutes'),
  (2, 'done 1 day less 1 minute ago', 'SUCCESS', 'application/json', 'utf-8', '42', now() - interval '1 day' + interval '1 minute', null, '{"children": []}', '[1]', '{}', 'proj.add', 'celery@w1', now() - interval '1 day', null, now() - interval '1 day'),
  (3, 'failed 10 days ago', 'FAILURE', 'application/json', 'utf-8', '{"exc_type": "ValueError"}', now() - interval '10 days', 'Traceback (most recent call last): ...', null, '[]', '{}', 'proj.fail', 'celery@w2', now() - interval '10 days', null, null),
  (4, 'started 2 days ago, never saved since', 'STARTED', 'application/json', 'utf-8', '{"pid": 7}', now() - interval '2 days', null, null, '[]', '{}', 'proj.slow', 'celery@w2', now() - interval '2 days', 'nightly-export', now() - interval '2 days'),
  (5, 'created 5 days ago, done 1 hour ago', 'SUCCESS', 'application/json', 'utf-8', 'null', now() - interval '1 hour', null, null, '[]', '{}', 'proj.slow', 'celery@w1', now() - interval '5 days', null, now() - interval '5 days'),
  (6, 'pending, saved now', 'PENDING', 'application/json', 'utf-8', null, now(), null, null, null, null, null, null, now(), null, null);
select setval(pg_get_serial_sequence('django_celery_results_taskresult', 'id'), 6);

insert into django_celery_results_groupresult (id, group_id, date_created, date_done, content_type, content_encoding, result) values
  (1, 'group done 1 day 1 minute ago', now() - interval '1 day 5 minutes', now() - interval '1 day 1 minute', 'application/json', 'utf-8', '[["a", null], ["b", null]]'),
  (2, 'group done 1 day less 1 minute ago', now() - interval '1 day 5 minutes', now() - interval '1 day' + interval '1 minute', 'application/json', 'utf-8', '[["c", null]]');
select setval(pg_get_serial_sequence('django_celery_results_groupresult', 'id'), 2);

insert into django_celery_results_chordcounter (id, group_id, sub_tasks, count) values
  (1, 'group done 1 day 1 minute ago', '[[["a", null], null], [["b", null], null]]', 0),
  (2, 'chord still counting', '[[["d", null], null]]', 1);
select setval(pg_get_serial_sequence('django_celery_results_chordcounter', 'id'), 2);
