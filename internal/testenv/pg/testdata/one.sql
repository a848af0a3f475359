-- Two statements in one file: ApplyFiles must run them both.
create role app_login login;
create table public.numbers (n int not null);
