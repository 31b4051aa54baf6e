# Reference values for tests/test_multistate_fit.py and tests/test_multistate_aj.py.
# Run: Rscript tests/data/multistate_cll_reference.R /work/shared/refdata/TA174_CLL_Williams2017.csv
# (R 4.2.2, survival 3.5-3). flexsurv is not installable here (no Debian package), so the
# left-truncated (clock-forward) fits maximise the written likelihood with optim (BFGS, Nelder-Mead, BFGS).
library(survival)
args <- commandArgs(trailingOnly = TRUE)
d <- read.csv(args[1])
options(digits = 15)

# transition data (times in years)
pfp <- data.frame(time = d$prog_ty, status = d$prog, treat = d$treat)                       # 1 PF->P
pfd <- data.frame(time = d$prog_ty, status = as.integer(d$death == 1 & d$prog == 0), treat = d$treat)  # 2 PF->D
p <- subset(d, prog == 1 & death_ty > prog_ty)
pd_reset <- data.frame(time = p$death_ty - p$prog_ty, status = p$death, treat = p$treat)     # 3 P->D clock-reset
pd_fwd <- data.frame(t0 = p$prog_ty, t1 = p$death_ty, status = p$death, treat = p$treat)      # 3 P->D clock-forward

cat("# survreg log-likelihoods, ~ treat\n")
for (tr in list(list(1, pfp), list(2, pfd), list(3, pd_reset))) {
  for (dist in c("exponential", "weibull", "lognormal", "loglogistic")) {
    f <- survreg(Surv(time, status) ~ treat, data = tr[[2]], dist = dist)
    cat(sprintf("survreg,%d,reset,%s,%.10f\n", tr[[1]], dist, f$loglik[2]))
  }
}

cat("# left-truncated (clock-forward) P->D, optim on the written likelihood, ~ treat\n")
x <- pd_fwd$treat; t0 <- pd_fwd$t0; t1 <- pd_fwd$t1; e <- pd_fwd$status
# exponential: h = exp(b0 + b1 x)
nll_exp <- function(b) { r <- exp(b[1] + b[2] * x); -sum(e * log(r) - r * (t1 - t0)) }
# Gompertz (flexsurv): h = rate exp(shape t), H = rate/shape (exp(shape t) - 1), log rate = b0 + b2 x
nll_gomp <- function(b) {
  a <- b[1]; r <- exp(b[2] + b[3] * x)
  H <- function(t) r / a * expm1(a * t)
  -sum(e * (log(r) + a * t1) - H(t1) + H(t0))
}
best <- function(nll0, start) {
  nll <- function(b) { v <- nll0(b); if (is.finite(v)) v else 1e10 }
  o <- optim(start, nll, method = "BFGS", control = list(reltol = 1e-14, maxit = 10000))
  o <- optim(o$par, nll, method = "Nelder-Mead", control = list(reltol = 1e-15, maxit = 50000))
  o <- optim(o$par, nll, method = "BFGS", control = list(reltol = 1e-15, maxit = 10000))
  -o$value
}
cat(sprintf("optim,3,forward,exponential,%.10f\n", best(nll_exp, c(-1, 0))))
cat(sprintf("optim,3,forward,gompertz,%.10f\n", best(nll_gomp, c(-0.5, 0, 0))))

cat("# Aalen-Johansen occupancy: survfit(Surv(tstart, tstop, event) ~ 1, id = id), all patients and treat == 1\n")
pf <- data.frame(id = d$patid, tstart = 0, tstop = d$prog_ty,
                 event = ifelse(d$prog == 1, "prog", ifelse(d$death == 1, "death", "censor")), treat = d$treat)
pp <- data.frame(id = p$patid, tstart = p$prog_ty, tstop = p$death_ty,
                 event = ifelse(p$death == 1, "death", "censor"), treat = p$treat)
ms <- rbind(pf, pp)
ms <- ms[order(ms$id, ms$tstart), ]
ms$event <- factor(ms$event, levels = c("censor", "prog", "death"))
times <- c(0.25, 0.5, 1, 1.5, 2, 2.5, 3, 3.5, 3.9)
for (grp in c("all", "treat1")) {
  sub <- if (grp == "all") ms else ms[ms$treat == 1, ]
  f <- survfit(Surv(tstart, tstop, event) ~ 1, data = sub, id = id)
  s <- summary(f, times = times)
  for (i in seq_along(times)) {
    cat(sprintf("aj,%s,%.2f,%.15f,%.15f,%.15f\n", grp, times[i], s$pstate[i, 1], s$pstate[i, 2], s$pstate[i, 3]))
  }
}
