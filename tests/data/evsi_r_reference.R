# Reference EVSI values for tests/test_evsi.py, reproducing R package voi's evsi(method="gam")
# (Strong, Oakley, Brennan & Breeze 2015, MDM 35:570) with mgcv 1.8-41 directly, because voi is not
# installed here. voi's evsi_npreg: generate_data() first calls check_datagen_fn(), which runs the
# data-generating function once (consuming random numbers), then simulates the data used; the
# regression is mgcv::gam(inb ~ te(X1, X2, bs='cr')) (voi's default_gam_formula) and
# EVSI = mean(pmax(0, fit)) - max(0, mean(fit)). For cost-effectiveness outputs voi regresses the
# incremental costs and effects separately and combines them at each WTP (evppi_npreg.cea).
# Run: Rscript tests/data/evsi_r_reference.R   (writes tests/data/evsi_voi_simulated_data.csv)
library(mgcv)
d <- read.csv("/work/shared/refdata/voi_chemo_pars_nb_cea_10000.csv")
inb <- d$nb_Novel - d$nb_SoC
nsim <- nrow(d)
trial <- function(n) {
  invisible(rbinom(nsim, n, d$p_side_effects_t1)); invisible(rbinom(nsim, n, d$p_side_effects_t2))  # check_datagen_fn
  data.frame(X1 = rbinom(nsim, n, d$p_side_effects_t1), X2 = rbinom(nsim, n, d$p_side_effects_t2))
}
evsi_of <- function(y, dat) { f <- fitted(gam(y ~ te(X1, X2, bs='cr'), data = dat)); mean(pmax(0, f)) - max(0, mean(f)) }
# voi tests/testthat/test_evsi.R: set.seed(1); evsi(chemo_nb, chemo_pars, study="trial_binary",
#   pars=c(pi1, pi2))$evsi == 242.1268 (tol 0.01)
set.seed(1); t100 <- trial(100)
cat(sprintf("trial_binary n=100 seed 1: %.4f\n", evsi_of(inb, t100)))           # 242.1267
# Monte Carlo spread of that estimate over the simulated data (seeds 2..21)
v <- sapply(2:21, function(s) { set.seed(s); evsi_of(inb, trial(100)) })
cat(sprintf("seeds 2-21: mean %.3f sd %.3f\n", mean(v), sd(v)))                  # 242.569, 2.023
# Single-arm binary study of p_side_effects_t2, n = 1000 (voi study="binary"), CEA output at
# k = 10000 * 1:5 (chemo_cea$k): incremental costs and effects regressed separately.
set.seed(1)
invisible(rbinom(nsim, 1000, d$p_side_effects_t2))  # check_datagen_fn
b1000 <- data.frame(X1 = rbinom(nsim, 1000, d$p_side_effects_t2))
dc <- d$c_Novel - d$c_SoC; de <- d$e_Novel - d$e_SoC
fc <- fitted(gam(dc ~ te(X1, bs='cr'), data = b1000))
fe <- fitted(gam(de ~ te(X1, bs='cr'), data = b1000))
for (k in 10000 * 1:5) { f <- k * fe - fc; cat(sprintf("binary n=1000 k=%d: %.4f\n", k, mean(pmax(0, f)) - max(0, mean(f)))) }
write.csv(data.frame(trial_X1 = t100$X1, trial_X2 = t100$X2, binary1000_X1 = b1000$X1),
          "tests/data/evsi_voi_simulated_data.csv", row.names = FALSE)
