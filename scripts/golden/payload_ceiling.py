"""Cross-check of tokenProbabilityCeiling (packages/trainer/bench/common.ts) with NumPy.

Usage: python3 scripts/golden/payload_ceiling.py <model.safetensors>
Prints, for a few token ids, the highest probability a tied, LayerNorm-fed GPT-2 head can give the
token from any hidden state (projected gradient ascent over the LayerNorm output sphere).
"""
import json, struct, numpy as np, sys
p=sys.argv[1]
b=open(p,'rb').read(); n=struct.unpack('<Q',b[:8])[0]; h=json.loads(b[8:8+n]); off=8+n
def T(k):
    m=h[k]; s,e=m['data_offsets']; return np.frombuffer(b[off+s:off+e],dtype=np.float32).reshape(m['shape'])
keys=[k for k in h if k!='__metadata__']
wte=T([k for k in keys if k.endswith('wte.weight')][0]); g=T([k for k in keys if 'ln_f.weight' in k][0]); bb=T([k for k in keys if 'ln_f.bias' in k][0])
d=wte.shape[1]
print('wte norms median',np.median(np.linalg.norm(wte,axis=1)),'g mean',g.mean(),'|g|',np.linalg.norm(g))
W=wte*g  # logits = W @ n + wte@b, |n|=sqrt(d), n zero-mean
c=wte@bb
def maxp(t):
    # maximise log softmax_t over n on the sphere (zero-mean) by projected gradient ascent
    rng=np.random.default_rng(0); x=W[t]-W[t].mean(); x=x/np.linalg.norm(x)*np.sqrt(d)
    for it in range(3000):
        z=W@x+c; z-=z.max(); p=np.exp(z); p/=p.sum()
        grad=W[t]-p@W; grad-=grad.mean()
        x=x+0.05*grad; x-=x.mean(); x=x/np.linalg.norm(x)*np.sqrt(d)
    z=W@x+c; z-=z.max(); p=np.exp(z); p/=p.sum(); return p[t], np.argsort(-p)[:3]
for t in [432,57,511,97,100,200]:
    pt,top=maxp(t); print('token',t,'max attainable p',round(float(pt),4),'top',top)
