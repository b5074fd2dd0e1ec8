"""Run under valgrind memcheck by ctest python.valgrind (CUPRUM_VALGRIND
builds): the extension module's paths (runs, pipelines, observers, stdin,
asyncio, concurrency, builders, a timeout) with no memcheck error."""
import asyncio
from cuprum import sh, ECHO, CAT, YES, HEAD, FALSE, SLEEP, observe, ExecutionContext, StdinInput, run_concurrent, run_concurrent_sync, ConcurrentConfig
from cuprum.builders import git_checkout, rsync_sync, tar_create, safe_path
ev=[]
with observe(ev.append):
    r=sh.make(ECHO)("-n","hi").run_sync(context=ExecutionContext(env={"A":"1"}, tags={"t":"1"}))
    p=(sh.make(YES)()|sh.make(HEAD)("-n3")).run_sync()
    c=sh.make(CAT)().run_sync(stdin=StdinInput(text="x"))
async def m():
    t=asyncio.create_task(sh.make(CAT)().run(stdin=StdinInput(data=b"y"*100000)))
    return await t
asyncio.run(m())
run_concurrent_sync(*[sh.make(ECHO)(str(i)) for i in range(5)])
# The batch engine's worker threads: fail-fast, asyncio, a timeout.
asyncio.run(run_concurrent(sh.make(ECHO)("a"), sh.make(FALSE)(), sh.make(ECHO)("b"),
                           config=ConcurrentConfig(concurrency=2, fail_fast=True)))
try: run_concurrent_sync(sh.make(SLEEP)("60"), config=ConcurrentConfig(context=ExecutionContext(timeout=0.05)))
except TimeoutError: pass
git_checkout("main"); rsync_sync("/a/","/b"); safe_path("/x")
try: sh.make(ECHO)().run_sync(timeout=0.01)
except Exception: pass
assert r.stdout == "hi" and p.stdout == "y\ny\ny\n" and c.stdout == "x"
print("valgrind smoke: ok,", len(ev), "events")
