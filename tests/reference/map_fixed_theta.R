## Joint modes of (beta, b) at a FIXED covariance, computed with lme4's / ordinal's own
## machinery, as references for bayesmix's MAP backend (tests/test_map_reference.py).
##
## Why not compare with the published fits directly: for LMMs lme4's fixef/ranef at theta-hat
## already are the joint mode of (beta, b) given theta (penalized least squares), but glmer's
## default (nAGQ = 1) optimises beta in the outer Laplace loop, which is NOT the joint mode.
## glmer's nAGQ = 0 devfun runs PIRLS over (beta, u) jointly at a given theta: evaluated once
## at a fixed theta, it returns exactly the MAP at that covariance (flat prior on beta).
## For ordinal::clmm the joint mode is the minimum over (alpha, beta) of clmm's penalized
## negative log-likelihood after its inner Newton update of u (envelope theorem), at tau fixed.
##
## theta is taken from the reference fits in /work/shared/reference/*.json (lme4 1.1-31,
## ordinal 2022.11-16), so the covariance passed to bayesmix is the same.
##
## Run: Rscript tests/reference/map_fixed_theta.R  (writes map_fixed_theta.json next to it)

suppressPackageStartupMessages({
  library(lme4)
  library(ordinal)
  library(jsonlite)
})

ref_dir <- "/work/shared/reference"
args <- commandArgs(trailingOnly = FALSE)
script <- sub("--file=", "", args[grep("--file=", args)])
out_file <- file.path(dirname(normalizePath(script)), "map_fixed_theta.json")

ref_fit <- function(dataset, id) {
  fits <- fromJSON(file.path(ref_dir, paste0(dataset, ".json")), simplifyVector = FALSE)$fits
  for (f in fits) if (identical(f$id, id)) return(f)
  stop("no reference fit ", id)
}

ranef_list <- function(b, reTrms) {
  ## b in lme4's layout (term after term, level-major within a term)
  out <- list()
  offset <- 0
  for (k in seq_along(reTrms$cnms)) {
    nm <- names(reTrms$cnms)[k]
    cn <- reTrms$cnms[[k]]
    lv <- levels(reTrms$flist[[attr(reTrms$flist, "assign")[k]]])
    r <- length(cn); m <- length(lv)
    mat <- matrix(b[offset + seq_len(m * r)], nrow = m, ncol = r, byrow = TRUE)
    offset <- offset + m * r
    out[[length(out) + 1]] <- list(group = nm, terms = cn, levels = lv,
                                   b = lapply(seq_len(r), function(c) mat[, c]))
  }
  out
}

lmm_case <- function(id, dataset, formula, data, REML) {
  ref <- ref_fit(dataset, id)
  theta <- unlist(ref$theta$value)
  lmod <- lFormula(formula, data = data, REML = REML)
  devfun <- do.call(mkLmerDevfun, lmod)
  devfun(theta)
  pp <- environment(devfun)$pp
  list(id = id, dataset = dataset, formula = deparse1(formula, collapse = " "), family = "gaussian",
       theta = theta, sigma = ref$sigma,
       quantity = "lme4 PLS solution at fixed theta (mkLmerDevfun evaluated at theta)",
       beta = list(names = colnames(lmod$X), value = pp$beta(1)),
       vcov_unscaled = chol2inv(pp$RX()),
       ranef = ranef_list(pp$b(1), lmod$reTrms))
}

glmm_case <- function(id, dataset, formula, data, family) {
  family <- if (is.function(family)) family() else family
  ref <- ref_fit(dataset, id)
  theta <- unlist(ref$theta$value)
  glmod <- glFormula(formula, data = data, family = family)
  devfun <- do.call(mkGlmerDevfun, c(glmod, list(nAGQ = 0L,
                    control = glmerControl(tolPwrss = 1e-12))))
  dev <- devfun(theta)
  pp <- environment(devfun)$pp
  resp <- environment(devfun)$resp
  list(id = id, dataset = dataset, formula = deparse1(formula, collapse = " "), family = family$family,
       theta = theta,
       quantity = paste("joint mode of (beta, u) at fixed theta: glmer nAGQ = 0 devfun",
                        "(PIRLS over beta and u, tolPwrss = 1e-12) evaluated at theta"),
       beta = list(names = colnames(glmod$X), value = pp$beta(1)),
       vcov_unscaled = chol2inv(pp$RX()),
       pwrss = resp$resDev() + sum(pp$u(1)^2),
       ranef = ranef_list(pp$b(1), glmod$reTrms))
}

ordinal_case <- function() {
  ref <- ref_fit("wine", "wine_clmm_Laplace")
  tau <- ref$random_effects[[1]]$sd[[1]]
  rho <- clmm(rating ~ temp + contact + (1 | judge), data = wine, doFit = FALSE,
              control = clmm.control(useMatrix = TRUE, gradTol = 1e-10, maxIter = 200))
  nfe <- rho$dims$nfepar
  penalized_nll <- function(fe) {
    ordinal:::setPar.clmm(rho, c(fe, tau))
    if (!ordinal:::update.u(rho)) return(Inf)
    rho$nll
  }
  start <- rho$fepar
  ## update.u warns "step factor reduced below minimum" when its inner objective is already
  ## flat to rounding (gradTol = 1e-10 is below what every inner solve can certify); those
  ## warnings are counted and recorded, and the optimum is checked by its outer gradient.
  n_inner_warnings <- 0L
  count <- function(w) {
    n_inner_warnings <<- n_inner_warnings + 1L
    invokeRestart("muffleWarning")
  }
  opt <- withCallingHandlers(nlminb(start, penalized_nll, control = list(rel.tol = 1e-15, x.tol = 1e-12,
                                                     eval.max = 5000, iter.max = 2000)),
                             warning = count)
  ## polish with optim's BFGS from nlminb's answer (tight tolerance), keep the better one
  opt2 <- withCallingHandlers(optim(opt$par, penalized_nll, method = "BFGS",
                control = list(reltol = 1e-15, maxit = 2000, ndeps = rep(1e-6, nfe))),
                              warning = count)
  par <- if (opt2$value < opt$objective) opt2$par else opt$par
  h <- 1e-5
  grad <- withCallingHandlers(sapply(seq_along(par), function(i) {
    e <- replace(numeric(length(par)), i, h)
    (penalized_nll(par + e) - penalized_nll(par - e)) / (2 * h)
  }), warning = count)
  value <- withCallingHandlers(penalized_nll(par), warning = count)  # leaves rho$u at the optimum
  nalpha <- nlevels(wine$rating) - 1
  list(id = "wine_clmm_fixed_tau", dataset = "wine",
       formula = "rating ~ temp + contact + (1 | judge)", family = "ordinal",
       tau = tau,
       quantity = paste("joint mode of (alpha, beta, u) at fixed tau: minimum over (alpha,",
                        "beta) of clmm's penalized negative log-likelihood after its inner",
                        "Newton update of u (useMatrix = TRUE, gradTol = 1e-10)"),
       objective = value, objective_meaning = "-sum log p(y|alpha,beta,u) - sum log dnorm(u)",
       max_abs_grad = max(abs(grad)), inner_update_warnings = n_inner_warnings,
       thresholds = par[seq_len(nalpha)],
       beta = list(names = c("tempwarm", "contactyes"), value = par[-seq_len(nalpha)]),
       ranef = list(list(group = "judge", terms = "(Intercept)",
                         levels = levels(wine$judge), b = list(tau * rho$u))))
}

cases <- list(
  lmm_case("sleepstudy_lmer_corr_REML", "sleepstudy", Reaction ~ Days + (Days | Subject),
           sleepstudy, TRUE),
  lmm_case("sleepstudy_lmer_uncorr_ML", "sleepstudy", Reaction ~ Days + (Days || Subject),
           sleepstudy, FALSE),
  lmm_case("Penicillin_lmer_REML", "Penicillin", diameter ~ 1 + (1 | plate) + (1 | sample),
           Penicillin, TRUE),
  glmm_case("cbpp_glmer_Laplace", "cbpp",
            cbind(incidence, size - incidence) ~ period + (1 | herd), cbpp, binomial),
  glmm_case("cbpp_glmer_nAGQ0", "cbpp",
            cbind(incidence, size - incidence) ~ period + (1 | herd), cbpp, binomial),
  glmm_case("grouseticks_glmer_Laplace", "grouseticks",
            TICKS ~ YEAR + scale(HEIGHT) + (1 | BROOD) + (1 | LOCATION), grouseticks, poisson),
  glmm_case("grouseticks_glmer_olre_Laplace", "grouseticks",
            TICKS ~ YEAR + scale(HEIGHT) + (1 | BROOD) + (1 | INDEX) + (1 | LOCATION),
            grouseticks, poisson),
  ordinal_case()
)

meta <- list(R = R.version.string, lme4 = as.character(packageVersion("lme4")),
             ordinal = as.character(packageVersion("ordinal")),
             script = "tests/reference/map_fixed_theta.R")
writeLines(toJSON(list(meta = meta, cases = cases), digits = NA, auto_unbox = TRUE,
                  pretty = TRUE), out_file)
cat("wrote", out_file, "\n")
