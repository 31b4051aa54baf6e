# Reference maximum-likelihood fits for tests/test_fit.py.
#
# Produces tests/data/r_reference_fits.csv (long format: dataset, distribution, covariate, term,
# value, source). CI never runs R: the stored CSV is what the tests read.
#
#   cd tests/data && Rscript r_reference_fits.R
#
# R 4.x with survival 3.5-3 (Debian bookworm r-cran-survival). flexsurv is not packaged in
# Debian, so:
#   * exponential, weibull, lognormal, loglogistic come from survival::survreg, converted to the
#     flexsurv parameterisation (AFT: log_scale = intercept, log_shape = -log(survreg scale));
#   * gompertz, gamma and gengamma are maximised here with optim() + nlm() on the likelihood
#     written out from the flexsurv density formulas with R's own dgamma/pgamma/dnorm/pnorm.
# The log-likelihood is the full one on the time scale: sum(log f(t) | event) +
# sum(log S(t) | censored). The script checks that survreg's reported loglik equals that sum
# evaluated at its estimates (survreg includes the log-time Jacobian), so all seven are on the
# same footing as flexsurv::flexsurvreg. BIC uses n = number of observations (as flexsurv).

suppressMessages(library(survival))
options(digits = 15)

refdata <- Sys.getenv("HTA_REFDATA", "../../../shared/refdata")
read_ref <- function(name) read.csv(file.path(refdata, name))

lung <- read_ref("lung_R_survival.csv")
ovarian <- read_ref("ovarian_R_survival.csv")
veteran <- read_ref("veteran_R_survival.csv")
datasets <- list(
  lung = data.frame(time = lung$time, event = as.integer(lung$status == 2),
                    arm = as.integer(lung$sex == 2)),
  ovarian = data.frame(time = ovarian$futime, event = as.integer(ovarian$fustat == 1),
                       arm = as.integer(ovarian$rx == 2)),
  veteran = data.frame(time = veteran$time, event = as.integer(veteran$status == 1),
                       arm = as.integer(veteran$trt == 2))
)

# ---- explicit flexsurv log densities and log survivor functions -----------------------------
# Each returns list(logf, logS) for vectors t given the natural parameters (vectors allowed).
ll_terms <- list(
  exponential = function(t, p) list(logf = dexp(t, p$rate, log = TRUE),
                                    logS = pexp(t, p$rate, lower.tail = FALSE, log.p = TRUE)),
  weibull = function(t, p) list(logf = dweibull(t, p$shape, p$scale, log = TRUE),
                                logS = pweibull(t, p$shape, p$scale, lower.tail = FALSE,
                                                log.p = TRUE)),
  lognormal = function(t, p) list(logf = dlnorm(t, p$meanlog, p$sdlog, log = TRUE),
                                  logS = plnorm(t, p$meanlog, p$sdlog, lower.tail = FALSE,
                                                log.p = TRUE)),
  loglogistic = function(t, p) {
    # flexsurv dllogis: f = (a/b)(t/b)^(a-1) / (1+(t/b)^a)^2, S = 1/(1+(t/b)^a)
    z <- p$shape * (log(t) - log(p$scale))
    list(logf = log(p$shape) - log(t) + z - 2 * log1p(exp(z)),
         logS = -log1p(exp(z)))
  },
  gompertz = function(t, p) {
    # flexsurv dgompertz: h = rate exp(shape t); H = rate/shape (exp(shape t) - 1)
    H <- ifelse(abs(p$shape) < 1e-12, p$rate * t, p$rate / p$shape * expm1(p$shape * t))
    list(logf = log(p$rate) + p$shape * t - H, logS = -H)
  },
  gamma = function(t, p) list(logf = dgamma(t, p$shape, p$rate, log = TRUE),
                              logS = pgamma(t, p$shape, p$rate, lower.tail = FALSE,
                                            log.p = TRUE)),
  gengamma = function(t, p) {
    # flexsurv dgengamma / pgengamma (Prentice 1974 parameterisation), Q != 0 branch
    Q <- p$Q; qi <- 1 / Q^2; w <- (log(t) - p$mu) / p$sigma
    logf <- -log(p$sigma * t) + log(abs(Q)) + qi * log(qi) + qi * (Q * w - exp(Q * w)) -
      lgamma(qi)
    u <- qi * exp(Q * w)
    logS <- ifelse(Q > 0, pgamma(u, qi, lower.tail = FALSE, log.p = TRUE),
                   pgamma(u, qi, lower.tail = TRUE, log.p = TRUE))
    list(logf = logf, logS = logS)
  }
)

# unconstrained coefficients in flexsurv order; loc = the location parameter that a covariate
# shifts (as flexsurvreg's default)
coef_names <- list(
  exponential = "log_rate", weibull = c("log_shape", "log_scale"),
  lognormal = c("meanlog", "log_sdlog"), loglogistic = c("log_shape", "log_scale"),
  gompertz = c("shape", "log_rate"), gamma = c("log_shape", "log_rate"),
  gengamma = c("mu", "log_sigma", "Q")
)
location <- c(exponential = 1, weibull = 2, lognormal = 1, loglogistic = 2, gompertz = 2,
              gamma = 2, gengamma = 1)

loglik_explicit <- function(dist, b, d, covariate) {
  k <- length(coef_names[[dist]])
  theta <- lapply(seq_len(k), function(j) rep(b[j], nrow(d)))
  if (covariate) theta[[location[dist]]] <- theta[[location[dist]]] + b[k + 1] * d$arm
  p <- switch(dist,
    exponential = list(rate = exp(theta[[1]])),
    weibull = list(shape = exp(theta[[1]]), scale = exp(theta[[2]])),
    lognormal = list(meanlog = theta[[1]], sdlog = exp(theta[[2]])),
    loglogistic = list(shape = exp(theta[[1]]), scale = exp(theta[[2]])),
    gompertz = list(shape = theta[[1]], rate = exp(theta[[2]])),
    gamma = list(shape = exp(theta[[1]]), rate = exp(theta[[2]])),
    gengamma = list(mu = theta[[1]], sigma = exp(theta[[2]]), Q = theta[[3]]))
  tt <- ll_terms[[dist]](d$time, p)
  sum(ifelse(d$event == 1, tt$logf, tt$logS))
}

# ---- survreg fits --------------------------------------------------------------------------
survreg_fit <- function(dist, d, covariate) {
  f <- if (covariate) Surv(time, event) ~ arm else Surv(time, event) ~ 1
  m <- survreg(f, data = d, dist = dist)
  beta <- unname(coef(m)); V <- m$var
  if (dist == "exponential") {
    # survreg: log T = mu + W, rate = exp(-mu)
    b <- -beta[1]
    J <- matrix(-1, 1, 1)
    if (covariate) { b <- c(b, -beta[2]); J <- diag(c(-1, -1)) }
    # flexsurv's covariate on log rate: coefficient = -survreg coefficient
  } else {
    log_sigma <- log(m$scale)
    if (dist == "lognormal") { b <- c(beta[1], log_sigma); perm <- c(1, 2) }
    else { b <- c(-log_sigma, beta[1]) }            # weibull / loglogistic: (log_shape, log_scale)
    if (covariate) b <- c(b, beta[2])
    # survreg var is on (intercept, [arm], log(scale)); build the Jacobian to flexsurv order
    p <- length(beta)
    idx_int <- 1; idx_arm <- if (covariate) 2 else NA; idx_ls <- p + 1
    J <- matrix(0, length(b), p + 1)
    if (dist == "lognormal") { J[1, idx_int] <- 1; J[2, idx_ls] <- 1 }
    else { J[1, idx_ls] <- -1; J[2, idx_int] <- 1 }
    if (covariate) J[3, idx_arm] <- 1
  }
  cov <- J %*% V %*% t(J)
  if (dist == "exponential" && !covariate) cov <- matrix(V[1, 1], 1, 1)
  if (dist == "exponential" && covariate) cov <- J %*% V[1:2, 1:2] %*% t(J)
  list(coef = b, cov = cov, loglik = m$loglik[2], source = "survreg")
}

numeric_hessian <- function(f, x, h) {
  k <- length(x); H <- matrix(0, k, k); f0 <- f(x)
  for (i in seq_len(k)) {
    ei <- replace(numeric(k), i, h[i])
    H[i, i] <- (f(x + ei) - 2 * f0 + f(x - ei)) / h[i]^2
    for (j in seq_len(i - 1)) {
      ej <- replace(numeric(k), j, h[j])
      H[i, j] <- H[j, i] <- (f(x + ei + ej) - f(x + ei - ej) - f(x - ei + ej) +
                               f(x - ei - ej)) / (4 * h[i] * h[j])
    }
  }
  H
}

# ---- direct maximisation with optim + nlm -----------------------------------------------------
optim_fit <- function(dist, d, starts) {
  nll <- function(b) {
    v <- -loglik_explicit(dist, b, d, covariate = length(b) > length(coef_names[[dist]]))
    if (!is.finite(v)) 1e10 else v
  }
  best <- NULL
  for (s in starts) {
    o <- try(optim(s, nll, method = "BFGS", control = list(reltol = 1e-14, maxit = 5000)),
             silent = TRUE)
    if (inherits(o, "try-error")) next
    o2 <- try(optim(o$par, nll, method = "Nelder-Mead",
                    control = list(reltol = 1e-15, maxit = 20000)), silent = TRUE)
    if (!inherits(o2, "try-error") && o2$value < o$value) o <- o2
    n <- try(nlm(nll, o$par, gradtol = 1e-12, steptol = 1e-14, iterlim = 1000, hessian = TRUE),
             silent = TRUE)
    val <- o$value; par <- o$par; H <- NULL
    if (!inherits(n, "try-error") && n$minimum <= val + 1e-12) {
      val <- n$minimum; par <- n$estimate; H <- n$hessian
    }
    if (is.null(best) || val < best$value) best <- list(value = val, par = par, H = H)
  }
  # central-difference Hessian; Gompertz shape is in 1/time units, so its step is scaled by
  # 1/mean(time) (optimHess's fixed absolute step is too coarse there)
  typical <- rep(1, length(best$par))
  if (dist == "gompertz") typical[1] <- 1 / mean(d$time)
  H <- numeric_hessian(nll, best$par, 1e-4 * typical)
  list(coef = best$par, cov = solve(H), loglik = -best$value, source = "optim")
}

exp_rate <- function(d) log(sum(d$event) / sum(d$time))

rows <- list()
add <- function(ds, dist, cov, term, value, source) {
  rows[[length(rows) + 1]] <<- data.frame(dataset = ds, distribution = dist,
    covariate = if (cov) "arm" else "none", term = term, value = value, source = source)
}

for (ds in names(datasets)) {
  d <- datasets[[ds]]
  n <- nrow(d)
  fits <- list()
  for (covariate in c(FALSE, TRUE)) {
    for (dist in c("exponential", "weibull", "lognormal", "loglogistic")) {
      fits[[dist]] <- survreg_fit(dist, d, covariate)
    }
    # gompertz: start at the exponential fit, shape 0 and small +-
    lr <- exp_rate(d); s0 <- 1 / mean(d$time)
    extra <- if (covariate) 0 else NULL
    fits$gompertz <- optim_fit("gompertz", d,
      lapply(c(0, -s0, s0), function(s) c(s, lr, extra)))
    # gamma: start at shape 1 (= exponential) and from the weibull shape
    wb <- fits$weibull$coef
    fits$gamma <- optim_fit("gamma", d,
      list(c(0, lr, extra), c(wb[1], -wb[2] + wb[1], extra), c(log(2), lr + log(2), extra)))
    # gengamma: from the lognormal fit (Q near 0), the weibull fit (Q = 1: mu = log scale,
    # sigma = 1/shape) and the gamma fit (sigma = Q)
    ln <- fits$lognormal$coef
    ga <- fits$gamma$coef
    qg <- exp(-ga[1] / 2)  # gamma(a, b) = gengamma(Q = sigma = 1/sqrt(a), mu = log(Q^2 / b)...)
    g_starts <- list(c(ln[1], ln[2], 0.05, extra), c(ln[1], ln[2], -0.05, extra),
                     c(wb[2], -wb[1], 1, extra), c(wb[2], -wb[1], 0.5, extra),
                     c(-ga[2] - ga[1] + log(exp(ga[1])), log(qg), qg, extra))
    fits$gengamma <- optim_fit("gengamma", d, g_starts)

    for (dist in names(fits)) {
      f <- fits[[dist]]
      k <- length(f$coef)
      explicit <- loglik_explicit(dist, f$coef, d, covariate)
      if (abs(explicit - f$loglik) > 1e-6)
        stop(sprintf("%s %s: reported loglik %.10f != explicit %.10f", ds, dist, f$loglik,
                     explicit))
      add(ds, dist, covariate, "loglik", f$loglik, f$source)
      add(ds, dist, covariate, "aic", -2 * f$loglik + 2 * k, f$source)
      add(ds, dist, covariate, "bic", -2 * f$loglik + log(n) * k, f$source)
      nm <- c(coef_names[[dist]], if (covariate) "arm")
      for (j in seq_len(k)) {
        add(ds, dist, covariate, nm[j], f$coef[j], f$source)
        add(ds, dist, covariate, paste0("se_", nm[j]), sqrt(f$cov[j, j]), f$source)
      }
    }
  }
}

out <- do.call(rbind, rows)
write.csv(out, "r_reference_fits.csv", row.names = FALSE)
cat(R.version.string, "; survival", as.character(packageVersion("survival")), "\n")
print(out[out$term == "loglik", c("dataset", "distribution", "covariate", "value")], digits = 12)
