insert into public.numbers (n) values (1), (2), (3);
grant select on public.numbers to app_login;
